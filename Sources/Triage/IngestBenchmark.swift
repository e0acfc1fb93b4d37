import Angiography
import DICOM
import Foundation

/// Times the ingestion of one DICOM file in-process (`dsa-triage bench --dicom`): parse, decode every frame,
/// build the model input (default options: minimum-intensity projection of the subtracted frames,
/// percentile window). One warm-up run, then `runs` timed ones.
public struct IngestBenchmark: Sendable {
    public var transferSyntax = ""
    public var description: PixelDescription?
    public var chosenFrames: [[Int]] = []
    /// Seconds per timed run, for each phase and in all.
    public var read: [Double] = [], decode: [Double] = [], build: [Double] = [], total: [Double] = []

    public init(path: String, runs: Int) throws {
        let url = URL(fileURLWithPath: path)
        for i in 0...runs {
            let t0 = Date()
            let file = try DICOMFile(url: url)
            let t1 = Date()
            let reader = try PixelDataReader(file: file)
            let frames = try reader.frames()
            let t2 = Date()
            let run = try ModelInputBuilder().build(file, frames: frames)
            let t3 = Date()
            description = reader.description
            transferSyntax = file.transferSyntaxUID
            chosenFrames = run.record?.chosenFrames ?? []
            if i == 0 { continue }  // warm-up
            read.append(t1.timeIntervalSince(t0))
            decode.append(t2.timeIntervalSince(t1))
            build.append(t3.timeIntervalSince(t2))
            total.append(t3.timeIntervalSince(t0))
        }
    }
}
