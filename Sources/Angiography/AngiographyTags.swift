import DICOM

/// Tags of the angiographic attributes (PS3.6). A namespace of its own, so that names the DICOM target may
/// add later never clash.
enum XATag {
    static let imageType = DICOMTag(0x0008, 0x0008)
    static let frameType = DICOMTag(0x0008, 0x9007)
    static let instanceNumber = DICOMTag(0x0020, 0x0013)
    static let seriesNumber = DICOMTag(0x0020, 0x0011)
    static let pixelIntensityRelationship = DICOMTag(0x0028, 0x1040)
    static let pixelIntensityRelationshipSign = DICOMTag(0x0028, 0x1041)
    static let voiLUTFunction = DICOMTag(0x0028, 0x1056)
    static let modalityLUTSequence = DICOMTag(0x0028, 0x3000)
    static let lutDescriptor = DICOMTag(0x0028, 0x3002)
    static let lutData = DICOMTag(0x0028, 0x3006)
    static let maskOperation = DICOMTag(0x0028, 0x6101)
    static let applicableFrameRange = DICOMTag(0x0028, 0x6102)
    static let maskFrameNumbers = DICOMTag(0x0028, 0x6110)
    static let contrastFrameAveraging = DICOMTag(0x0028, 0x6112)
    static let maskSubPixelShift = DICOMTag(0x0028, 0x6114)
    static let tidOffset = DICOMTag(0x0028, 0x6120)
    static let recommendedViewingMode = DICOMTag(0x0028, 0x1090)
    static let frameVOILUTSequence = DICOMTag(0x0028, 0x9132)
    static let pixelValueTransformationSequence = DICOMTag(0x0028, 0x9145)
    static let xrayFramePixelDataPropertiesSequence = DICOMTag(0x0028, 0x9443)
    static let sharedFunctionalGroupsSequence = DICOMTag(0x5200, 0x9229)
    static let perFrameFunctionalGroupsSequence = DICOMTag(0x5200, 0x9230)
}
