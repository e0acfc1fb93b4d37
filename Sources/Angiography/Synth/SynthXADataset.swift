import DICOM
import Foundation

/// Which run of a case a file holds.
public enum SynthRunKind: String, Sendable, CaseIterable {
    /// Unsubtracted LIN frames with a Mask Subtraction Sequence.
    case native
    /// Already log-subtracted frames (Image Type … SUBTRACTION).
    case subtracted
}

/// Builds the XA Image IOD of a synthetic run: plausible acquisition attributes, synthetic identities only.
public enum SynthXADataset {
    /// UIDs of one case, drawn from the case seed ("2.25." + a random 127-bit number).
    public struct UIDs: Sendable, Equatable {
        public var study: String
        public var nativeSeries: String
        public var subtractedSeries: String
        public var nativeInstance: String
        public var subtractedInstance: String

        public init(seed: UInt64) {
            var rng = SynthRandom(seed: SynthSeedMixer.derive(seed, stream: 7))
            study = "2.25." + rng.uidSuffix()
            nativeSeries = "2.25." + rng.uidSuffix()
            subtractedSeries = "2.25." + rng.uidSuffix()
            nativeInstance = "2.25." + rng.uidSuffix()
            subtractedInstance = "2.25." + rng.uidSuffix()
        }
    }

    /// The dataset of `kind` for `run`, with pixel data encoded for `syntax`.
    public static func dataset(run: SynthRun, kind: SynthRunKind, caseID: String, caseNumber: Int,
                               syntax: DICOMWriteSyntax) throws -> DICOMDatasetBuilder {
        let uids = UIDs(seed: run.seed)
        let cfg = run.configuration
        let acq = run.acquisition
        var ds = DICOMDatasetBuilder()
        func t(_ g: UInt16, _ e: UInt16) -> DICOMTag { DICOMTag(g, e) }
        // Dates derived from the seed; times on the same day.
        let days = Int(run.seed % 3650)
        let year = 2005 + days / 365, month = 1 + (days / 28) % 12, day = 1 + days % 28
        let date = String(format: "%04d%02d%02d", year, month, day)
        let hour = 8 + Int((run.seed >> 16) % 9), minute = Int((run.seed >> 8) % 55)
        let studyTime = String(format: "%02d%02d00", hour, minute)
        let seriesTime = String(format: "%02d%02d%02d", hour, min(minute + 5, 59), kind == .native ? 10 : 40)
        let instanceUID = kind == .native ? uids.nativeInstance : uids.subtractedInstance

        // SOP Common
        ds.set(.specificCharacterSet, .CS, "ISO_IR 100")
        ds.set(.sopClassUID, .UI, AngiographySOPClass.xRayAngiographicImageStorage)
        ds.set(.sopInstanceUID, .UI, instanceUID)
        // Patient (synthetic identity only)
        ds.set(.patientName, .PN, "SYNTHETIC^\(caseID)")
        ds.set(.patientID, .LO, "SYN-\(caseID)")
        ds.set(t(0x0010, 0x0030), .DA, "")
        ds.set(t(0x0010, 0x0040), .CS, "O")
        ds.set(t(0x0012, 0x0062), .CS, "YES")   // Patient Identity Removed
        ds.set(t(0x0012, 0x0063), .LO, "Synthetic data, no patient")
        // General Study
        ds.set(.studyInstanceUID, .UI, uids.study)
        ds.set(t(0x0008, 0x0020), .DA, date)
        ds.set(t(0x0008, 0x0030), .TM, studyTime)
        ds.set(t(0x0008, 0x0090), .PN, "")
        ds.set(t(0x0020, 0x0010), .SH, String("S\(caseNumber)".prefix(16)))
        ds.set(t(0x0008, 0x0050), .SH, "")
        ds.set(t(0x0008, 0x1030), .LO, "Synthetic angiogram")
        // General Series
        ds.set(.modality, .CS, "XA")
        ds.set(.seriesInstanceUID, .UI, kind == .native ? uids.nativeSeries : uids.subtractedSeries)
        ds.set(t(0x0020, 0x0011), .IS, int: kind == .native ? 1 : 2)
        ds.set(t(0x0008, 0x0021), .DA, date)
        ds.set(t(0x0008, 0x0031), .TM, seriesTime)
        ds.set(t(0x0018, 0x0015), .CS, "HEAD")   // Body Part Examined (unpaired, so no Laterality)
        ds.set(t(0x0008, 0x103E), .LO, kind == .native ? "DSA run native" : "DSA run subtracted")
        // General Equipment
        ds.set(t(0x0008, 0x0070), .LO, "dsa-triage synthetic generator")
        ds.set(t(0x0008, 0x1090), .LO, "SYNTH-XA")
        ds.set(t(0x0018, 0x1020), .LO, "1")
        // General Image / Acquisition
        ds.set(t(0x0020, 0x0013), .IS, int: 1)
        ds.set(t(0x0020, 0x0020), .CS, strings: ["", ""])
        ds.set(t(0x0008, 0x0023), .DA, date)
        ds.set(t(0x0008, 0x0033), .TM, seriesTime)
        ds.set(t(0x0008, 0x0022), .DA, date)
        ds.set(t(0x0008, 0x0032), .TM, seriesTime)
        ds.set(t(0x0020, 0x0012), .IS, int: 1)
        ds.set(t(0x0028, 0x2110), .CS, "00")    // Lossy Image Compression
        // Contrast/Bolus
        ds.set(t(0x0018, 0x0010), .LO, "Iodinated contrast")
        ds.set(t(0x0018, 0x1040), .LO, "INTRA-ARTERIAL")
        // Image Pixel
        ds.set(.samplesPerPixel, .US, int: 1)
        ds.set(.photometricInterpretation, .CS, "MONOCHROME2")
        ds.set(.rows, .US, int: cfg.rows)
        ds.set(.columns, .US, int: cfg.columns)
        ds.set(.bitsAllocated, .US, int: 16)
        ds.set(.bitsStored, .US, int: cfg.bitsStored)
        ds.set(.highBit, .US, int: cfg.bitsStored - 1)
        ds.set(.pixelRepresentation, .US, int: 0)
        // Multi-frame and Cine
        ds.set(.numberOfFrames, .IS, int: cfg.frames)
        ds.set(t(0x0028, 0x0009), attributeTags: [.frameTime])
        ds.set(.frameTime, .DS, double: cfg.frameTimeMs)
        ds.set(t(0x0018, 0x0040), .IS, int: Int((1000 / cfg.frameTimeMs).rounded()))   // Cine Rate
        ds.set(t(0x0008, 0x2144), .IS, int: Int((1000 / cfg.frameTimeMs).rounded()))   // Recommended Display Frame Rate
        // X-Ray Image
        if kind == .native {
            ds.set(t(0x0008, 0x0008), .CS, strings: ["ORIGINAL", "PRIMARY", "SINGLE PLANE"])
            ds.set(t(0x0028, 0x1040), .CS, "LIN")
        } else {
            ds.set(t(0x0008, 0x0008), .CS, strings: ["DERIVED", "SECONDARY", "SINGLE PLANE", "SUBTRACTION"])
            ds.set(t(0x0028, 0x1040), .CS, "LOG")
            // Modality LUT (required for LOG data): identity.
            ds.set(.rescaleIntercept, .DS, double: 0)
            ds.set(.rescaleSlope, .DS, double: 1)
            ds.set(t(0x0028, 0x1054), .LO, "US")
            ds.set(t(0x0008, 0x2111), .ST, "Log subtraction of mask frame 1: 2048 + 3000 * (ln frame - ln mask)")
        }
        ds.set(t(0x0028, 0x1041), .SS, int: 1)    // Pixel Intensity Relationship Sign
        // VOI LUT
        ds.set(.windowCenter, .DS, double: 2048)
        ds.set(.windowWidth, .DS, double: kind == .native ? 4096 : 2000)
        // X-Ray Acquisition
        ds.set(t(0x0018, 0x0060), .DS, double: acq.kvp)
        ds.set(t(0x0018, 0x1155), .CS, "GR")      // Radiation Setting
        ds.set(t(0x0018, 0x115A), .CS, "PULSED")  // Radiation Mode
        ds.set(t(0x0018, 0x1151), .IS, int: acq.tubeCurrentMA)
        let exposureMs = acq.pulseWidthMs * Double(cfg.frames)
        ds.set(t(0x0018, 0x1150), .IS, int: Int(exposureMs.rounded()))
        ds.set(t(0x0018, 0x1152), .IS, int: max(Int((exposureMs * Double(acq.tubeCurrentMA) / 1000).rounded()), 1))
        ds.set(t(0x0018, 0x1154), .DS, double: acq.pulseWidthMs)   // Average Pulse Width
        ds.set(t(0x0018, 0x1164), .DS, doubles: [acq.imagerPixelSpacingMm, acq.imagerPixelSpacingMm])
        ds.set(t(0x0018, 0x1147), .CS, "ROUND")   // Field of View Shape
        ds.set(t(0x0018, 0x1190), .DS, double: 0.6)  // Focal Spot
        // XA Positioner
        ds.set(t(0x0018, 0x1110), .DS, double: acq.sourceToDetectorMm)
        ds.set(t(0x0018, 0x1111), .DS, double: acq.sourceToPatientMm)
        ds.set(t(0x0018, 0x1114), .DS, double: acq.sourceToDetectorMm / acq.sourceToPatientMm)
        ds.set(t(0x0018, 0x1500), .CS, "STATIC")
        ds.set(t(0x0018, 0x1510), .DS, double: acq.primaryAngle)
        ds.set(t(0x0018, 0x1511), .DS, double: acq.secondaryAngle)
        // Mask
        if kind == .native {
            var item = DICOMDatasetBuilder()
            item.set(t(0x0028, 0x6101), .CS, "AVG_SUB")
            item.set(t(0x0028, 0x6110), .US, ints: run.maskFrames)
            item.set(t(0x0028, 0x6102), .US, ints: [run.maskFrames.max().map { $0 + 1 } ?? 2, cfg.frames])
            ds.set(.maskSubtractionSequence, sequence: [item])
            ds.set(t(0x0028, 0x1090), .CS, "SUB")     // Recommended Viewing Mode
        } else {
            var source = DICOMDatasetBuilder()
            source.set(t(0x0008, 0x1150), .UI, AngiographySOPClass.xRayAngiographicImageStorage)
            source.set(t(0x0008, 0x1155), .UI, uids.nativeInstance)
            ds.set(t(0x0008, 0x2112), sequence: [source])   // Source Image Sequence
        }
        // Pixel Data
        let frames = kind == .native ? run.native : run.subtracted
        switch syntax {
        case .jpegLosslessSV1, .rleLossless:
            var results = [Result<[UInt8], Error>?](repeating: nil, count: frames.count)
            results.withUnsafeMutableBufferPointer { out in
                // An empty buffer has no base address and nothing to do.
                guard let baseStart = out.baseAddress else { return }
                nonisolated(unsafe) let base = baseStart
                DispatchQueue.concurrentPerform(iterations: frames.count) { k in
                    let r = Result {
                        syntax == .rleLossless
                            ? try RLEEncoder.encode(frame: frames[k], rows: cfg.rows, columns: cfg.columns)
                            : try JPEGLosslessEncoder.encode(frame: frames[k], rows: cfg.rows, columns: cfg.columns,
                                                             precision: cfg.bitsStored)
                    }
                    (base + k).initialize(to: r)
                }
            }
            let encoded = try results.map { r -> [UInt8] in
                guard let r else { throw DICOMWriterError.pixelData(reason: "frame not encoded") }
                return try r.get()
            }
            ds.setEncapsulatedPixelData(frames: encoded)
        default:
            var bytes = [UInt8](repeating: 0, count: frames.count * cfg.rows * cfg.columns * 2)
            var p = 0
            for f in frames {
                for v in f { bytes[p] = UInt8(v & 0xFF); bytes[p + 1] = UInt8(v >> 8); p += 2 }
            }
            ds.setNativePixelData(bytes, vr: .OW)
        }
        return ds
    }
}
