import DICOM

/// SOP classes and the scope decision. Placeholder until the routing rules land.
public enum AngiographySOPClass {
    public static let xRayAngiographicImageStorage = "1.2.840.10008.5.1.4.1.1.12.1"
    public static let enhancedXAImageStorage = "1.2.840.10008.5.1.4.1.1.12.1.1"
    public static let xRayRadiofluoroscopicImageStorage = "1.2.840.10008.5.1.4.1.1.12.2"
    public static let enhancedXRFImageStorage = "1.2.840.10008.5.1.4.1.1.12.2.1"
}
