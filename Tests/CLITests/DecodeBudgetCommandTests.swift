import DICOM
import Foundation
import TestSupport
import XCTest

/// Small legal files whose headers claim gigabytes: refused with an error naming the file, its size, the
/// bytes needed and the limit, within bounded memory, never an abort (issue 15, item 5).
final class DecodeBudgetCommandTests: XCTestCase {
    /// An XA RLE file of `frames` constant 8-bit frames of `size`×`size`, written with our own DICOMWriter.
    /// PackBits repeats of 128 bytes (0x81 v) make each frame tiny whatever its claimed size.
    static func constantRLE(size: Int, frames: Int, native: Bool = false, to url: URL) throws {
        let pixels = size * size
        var frame: [UInt8] = [1, 0, 0, 0, 64, 0, 0, 0] + [UInt8](repeating: 0, count: 56)
        frame.reserveCapacity(64 + (pixels / 128 + 1) * 2)
        var left = pixels
        while left > 0 {
            let n = min(left, 128)
            frame += [UInt8(bitPattern: Int8(1 - n)), 100]
            left -= n
        }
        if frame.count % 2 == 1 { frame.append(0) }
        var ds = DICOMDatasetBuilder()
        ds.set(.sopClassUID, .UI, "1.2.840.10008.5.1.4.1.1.12.1")
        ds.set(.sopInstanceUID, .UI, "2.25.\(size)\(frames)")
        ds.set(.studyInstanceUID, .UI, "2.25.1")
        ds.set(.seriesInstanceUID, .UI, "2.25.2\(size)\(frames)")
        ds.set(.modality, .CS, "XA")
        ds.set(DICOMTag(0x0008, 0x0008), .CS, strings: native ? ["ORIGINAL", "PRIMARY", "SINGLE PLANE"] : ["DERIVED", "PRIMARY", "SINGLE PLANE", "SUBTRACTION"])
        ds.set(.samplesPerPixel, .US, int: 1)
        ds.set(.photometricInterpretation, .CS, "MONOCHROME2")
        ds.set(.rows, .US, int: size)
        ds.set(.columns, .US, int: size)
        ds.set(.numberOfFrames, .IS, int: frames)
        ds.set(.bitsAllocated, .US, int: 8)
        ds.set(.bitsStored, .US, int: 8)
        ds.set(.highBit, .US, int: 7)
        ds.set(.pixelRepresentation, .US, int: 0)
        ds.setEncapsulatedPixelData(frames: [[UInt8]](repeating: frame, count: frames))
        try DICOMWriter.write(ds, syntax: .rleLossless, to: url)
    }

    /// A 20480×20480 8-bit RLE file (6.5 MB) took 3.7 GB before; a 60000×60000 one (112 MB) aborted on a
    /// 14.4 GB allocation. Both are refused under the default 2 GiB limit with the file, size and limit named,
    /// and the process stays small.
    func testHugeSingleFrameIsRefusedWithinBoundedMemory() throws {
        let dir = try CLI.tempDir()
        for size in [20480, 60000] {
            let file = dir.appendingPathComponent("huge-\(size).dcm")
            try Self.constantRLE(size: size, frames: 1, to: file)
            let r = try MeasuredRun.run(["inspect", file.path])
            XCTAssertNil(r.signal, "signal \(r.signal ?? 0): \(r.stderr)")
            XCTAssertEqual(r.status, 1, r.stderr)
            XCTAssertTrue(r.stderr.contains(file.path), r.stderr)
            XCTAssertTrue(r.stderr.contains("\(size)×\(size)"), r.stderr)
            XCTAssertTrue(r.stderr.contains("over the decode memory limit of 2048 MB"), r.stderr)
            XCTAssertTrue(r.stderr.contains("--max-decode-mb"), r.stderr)
            XCTAssertFalse(r.stderr.contains("Fatal error"), r.stderr)
            // Reading the header and the fragment table only: far below one decoded frame (419 MB at 20480²).
            XCTAssertLessThan(r.peakRSSBytes, 300 << 20, "peak RSS \(r.peakRSSBytes >> 20) MB")
        }
    }

    /// triage refuses the 20480² file in its record (exit 4: nothing processed) and goes on with the batch.
    func testTriageRefusesInARecordAndGoesOn() throws {
        let dir = try CLI.tempDir()
        let huge = dir.appendingPathComponent("huge.dcm")
        try Self.constantRLE(size: 20480, frames: 1, to: huge)
        let small = dir.appendingPathComponent("small.dcm")
        try Self.constantRLE(size: 64, frames: 4, to: small)
        let model = try TestPaths.modelWithTokenizer(TestPaths.fixture("gemma3-vlm/model"))
        let r = try MeasuredRun.run(["triage", "--model", model.path, huge.path, small.path])
        XCTAssertNil(r.signal, r.stderr)
        XCTAssertEqual(r.status, 3, r.stderr)
        let records = try r.stdout.split(separator: "\n").map {
            try XCTUnwrap(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any], r.stdout)
        }
        XCTAssertEqual(records.map { $0["status"] as? String }, ["error", "processed"])
        let error = try XCTUnwrap(records[0]["error"] as? String)
        XCTAssertTrue(error.contains("20480×20480 × 1 frame(s)") && error.contains("over the decode memory limit"), error)
        XCTAssertLessThan(r.peakRSSBytes, 400 << 20, "peak RSS \(r.peakRSSBytes >> 20) MB")
    }

    /// A native run of 60 frames of 1024² is reduced (subtraction, minimum projection) a few frames at a
    /// time: it fits a 64 MiB limit that holding every frame's values (60 × 5 MB) could not, and the process
    /// stays far below what holding them took.
    func testLongRunIsReducedFrameByFrame() throws {
        let dir = try CLI.tempDir()
        let file = dir.appendingPathComponent("long-run.dcm")
        try Self.constantRLE(size: 1024, frames: 60, native: true, to: file)
        let model = try TestPaths.modelWithTokenizer(TestPaths.fixture("gemma3-vlm/model"))
        let r = try MeasuredRun.run(["triage", "--model", model.path, "--max-decode-mb", "64", file.path])
        XCTAssertNil(r.signal, r.stderr)
        XCTAssertEqual(r.status, 0, r.stderr + r.stdout)
        let record = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any], r.stdout)
        XCTAssertEqual(record["status"] as? String, "processed")
        XCTAssertEqual((record["frames_used"] as? [[Int]])?.first, Array(2...60))
        XCTAssertLessThan(r.peakRSSBytes, 300 << 20, "peak RSS \(r.peakRSSBytes >> 20) MB")
        print("long run: peak RSS \(r.peakRSSBytes >> 20) MB")
    }

    /// The limit is the option's: a run that fits the default is refused under a smaller --max-decode-mb, and
    /// a bad value is a usage error.
    func testMaxDecodeMbSetsTheLimit() throws {
        let dir = try CLI.tempDir()
        let file = dir.appendingPathComponent("run.dcm")
        try Self.constantRLE(size: 512, frames: 8, to: file)
        let ok = try MeasuredRun.run(["inspect", file.path])
        XCTAssertEqual(ok.status, 0, ok.stderr)
        let small = try MeasuredRun.run(["inspect", "--max-decode-mb", "4", file.path])
        XCTAssertEqual(small.status, 1, small.stderr)
        XCTAssertTrue(small.stderr.contains("512×512 × 8 frame(s) at 8 bits"), small.stderr)
        XCTAssertTrue(small.stderr.contains("over the decode memory limit of 4 MB"), small.stderr)
        let bad = try MeasuredRun.run(["inspect", "--max-decode-mb", "0", file.path])
        XCTAssertEqual(bad.status, 64, bad.stderr)
        XCTAssertTrue(bad.stderr.contains("--max-decode-mb must lie in"), bad.stderr)
    }
}
