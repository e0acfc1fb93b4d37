import Foundation
import Imaging
import MedGemma
import TestSupport
import Triage
import XCTest

/// The input-domain record (what a model was trained on) and triage's check against it.
final class InputDomainTests: XCTestCase {
    /// A constant image of `level`, optionally with a share of black and white pixels.
    func image(_ level: UInt8, count: Int = 100, black: Int = 0, white: Int = 0) -> [UInt8] {
        [UInt8](repeating: 0, count: black) + [UInt8](repeating: 255, count: white) + [UInt8](repeating: level, count: count - black - white)
    }

    func testImageStatisticsMatchHandComputedValues() throws {
        // 50 pixels at 0 and 50 at 255: mean 127.5, population std 127.5, p1 = 0, p99 = 255.
        let half = try XCTUnwrap(ModelImageStatistics(gray: image(0, count: 100, white: 50), frames: 8, sourceKind: .dicomSubtracted))
        XCTAssertEqual(half.meanGray, 127.5, accuracy: 1e-12)
        XCTAssertEqual(half.stdGray, 127.5, accuracy: 1e-12)
        XCTAssertEqual(half.dynamicRange, 255)
        XCTAssertEqual(half.nearBlackFraction, 0.5, accuracy: 1e-12)
        XCTAssertEqual(half.nearWhiteFraction, 0.5, accuracy: 1e-12)
        XCTAssertEqual(half.frames, 8)
        // 10 pixels at 8 (near-black, the edge counts), 5 at 247 (near-white), 85 at 100.
        var g = [UInt8](repeating: 100, count: 100)
        for i in 0..<10 { g[i] = 8 }
        for i in 10..<15 { g[i] = 247 }
        let s = try XCTUnwrap(ModelImageStatistics(gray: g, frames: nil, sourceKind: .picture))
        let mean: Double = (80.0 + 1235.0 + 8500.0) / 100   // 10 · 8 + 5 · 247 + 85 · 100
        let d8: Double = 8 - mean, d247: Double = 247 - mean, d100: Double = 100 - mean
        let variance: Double = (10 * d8 * d8 + 5 * d247 * d247 + 85 * d100 * d100) / 100
        XCTAssertEqual(s.meanGray, mean, accuracy: 1e-9)
        XCTAssertEqual(s.stdGray, variance.squareRoot(), accuracy: 1e-9)
        XCTAssertEqual(s.dynamicRange, 247 - 8)   // p1 is 8 (10 % of pixels), p99 is 247 (the top 5 %)
        XCTAssertEqual(s.nearBlackFraction, 0.10, accuracy: 1e-12)
        XCTAssertEqual(s.nearWhiteFraction, 0.05, accuracy: 1e-12)
        XCTAssertNil(s.frames)
        XCTAssertNil(ModelImageStatistics(gray: [], frames: 1, sourceKind: .picture))
    }

    /// Percentiles over the training images, numpy's linear interpolation computed by hand; each kind
    /// summarised apart; the margin rule applied.
    func testRecordSummarisesEachKindWithPercentilesAndMargins() throws {
        var images: [ModelImageStatistics] = []
        for (level, frames) in [(10, 6), (20, 8), (30, 8), (40, 10), (50, 12)] {
            images.append(try XCTUnwrap(ModelImageStatistics(gray: image(UInt8(level)), frames: frames, sourceKind: .dicomSubtracted)))
        }
        images.append(try XCTUnwrap(ModelImageStatistics(gray: image(200), frames: nil, sourceKind: .picture)))
        let d = try InputDomain(measuring: images, source: "test")
        XCTAssertEqual(d.images, 6)
        XCTAssertEqual(d.sourceKinds.map(\.kind), [.dicomSubtracted, .picture])
        XCTAssertEqual(d.sourceKinds.map(\.images), [5, 1])
        XCTAssertEqual(d.percentileLevels, [0.5, 1, 5, 50, 95, 99, 99.5])
        let sub = try XCTUnwrap(d.domain(of: .dicomSubtracted))
        let mean = try XCTUnwrap(sub.statistics.first { $0.statistic == .meanGray })
        // Sorted 10, 20, 30, 40, 50: rank h = 4·q; p0.5 → 10 + 0.02·10, p5 → 10 + 0.2·10, p95 → 40 + 0.8·10, p99.5 → 40 + 0.98·10.
        let expected = [10.2, 10.4, 12, 30, 48, 49.6, 49.8]
        for (a, b) in zip(mean.percentiles, expected) { XCTAssertEqual(a, b, accuracy: 1e-9) }
        XCTAssertEqual(mean.min, 10)
        XCTAssertEqual(mean.max, 50)
        // m = max(3, 0.1 · (49.8 − 10.2)) = 3.96.
        XCTAssertEqual(mean.margin, 3.96, accuracy: 1e-9)
        XCTAssertEqual(mean.allowed[0], 10.2 - 3.96, accuracy: 1e-9)
        XCTAssertEqual(mean.allowed[1], 49.8 + 3.96, accuracy: 1e-9)
        // Frames 6, 8, 8, 10, 12: p0.5 = 6 + 0.02·2 = 6.04, p99.5 = 10 + 0.98·2 = 11.96, margin max(1, 0.592) = 1.
        let frames = try XCTUnwrap(sub.statistics.first { $0.statistic == .frames })
        XCTAssertEqual(frames.allowed[0], 5.04, accuracy: 1e-9)
        XCTAssertEqual(frames.allowed[1], 12.96, accuracy: 1e-9)
        // Pictures have no frame count; their one image gives a zero-width spread and the minimum margins.
        let pic = try XCTUnwrap(d.domain(of: .picture))
        XCTAssertNil(pic.statistics.first { $0.statistic == .frames })
        let picMean = try XCTUnwrap(pic.statistics.first { $0.statistic == .meanGray })
        XCTAssertEqual(picMean.allowed, [197, 203])
        XCTAssertThrowsError(try InputDomain(measuring: [], source: "empty.csv")) { XCTAssertTrue("\($0)".contains("empty.csv")) }
    }

    func testCheckNamesWhatLiesOutsideWithValueAndRange() throws {
        let train = try (0..<5).map { i in
            try XCTUnwrap(ModelImageStatistics(gray: image(UInt8(100 + 10 * i)), frames: 8, sourceKind: .dicomSubtracted))
        }
        let d = try InputDomain(measuring: train, source: "t")
        let inside = d.check(try XCTUnwrap(ModelImageStatistics(gray: image(125), frames: 8, sourceKind: .dicomSubtracted)))
        XCTAssertTrue(inside.inTrainingDomain, "\(inside.findings)")
        XCTAssertNil(inside.reason)
        // Mean 200 lies far above 100.2 − 3.96 … 139.8 + 3.96; 30 frames above 8 ± 1.
        let bright = d.check(try XCTUnwrap(ModelImageStatistics(gray: image(200), frames: 30, sourceKind: .dicomSubtracted)))
        XCTAssertFalse(bright.inTrainingDomain)
        XCTAssertEqual(bright.findings, [
            "mean gray 200.0 outside 96.2–143.8 (dicom_subtracted training range with margin)",
            "frame count 30 outside 7–9 (dicom_subtracted training range with margin)",
        ])
        XCTAssertEqual(bright.reason, "outside the training domain: " + bright.findings.joined(separator: "; "))
        // A kind training never saw is outside whatever its statistics.
        let picture = d.check(try XCTUnwrap(ModelImageStatistics(gray: image(125), frames: nil, sourceKind: .picture)))
        XCTAssertFalse(picture.inTrainingDomain)
        XCTAssertEqual(picture.findings, ["source kind picture (a PNG/JPEG picture) not seen in training (trained on dicom_subtracted)"])
    }

    func testFilesRoundTripAndABrokenRecordIsAnError() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("domain-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        XCTAssertNil(try InputDomain.read(directory: dir))
        let d = try InputDomain(measuring: [try XCTUnwrap(ModelImageStatistics(gray: image(90), frames: 4, sourceKind: .dicomNative))], source: "t")
        let url = dir.appendingPathComponent(InputDomain.fileName)
        try d.write(to: url)
        XCTAssertEqual(try InputDomain.read(directory: dir), d)
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
        XCTAssertEqual(json["rule"] as? Int, 1)
        XCTAssertEqual(((json["source_kinds"] as? [[String: Any]])?.first)?["kind"] as? String, "dicom_native")
        try Data("{\"format\": 1}".utf8).write(to: url)
        XCTAssertThrowsError(try InputDomain.read(directory: dir)) { e in
            XCTAssertTrue("\(e)".hasPrefix("input-domain record \(url.path): not a valid record"), "\(e)")
        }
        // The adapter's record wins over the model's.
        let model = dir.appendingPathComponent("model"), adapter = dir.appendingPathComponent("adapter")
        for u in [model, adapter] { try FileManager.default.createDirectory(at: u, withIntermediateDirectories: true) }
        let other = try InputDomain(measuring: [try XCTUnwrap(ModelImageStatistics(gray: image(30), frames: nil, sourceKind: .picture))], source: "t")
        try d.write(to: model.appendingPathComponent(InputDomain.fileName))
        XCTAssertEqual(try TriagePipeline.inputDomain(adapter: adapter, model: model).0, d)
        try other.write(to: adapter.appendingPathComponent(InputDomain.fileName))
        XCTAssertEqual(try TriagePipeline.inputDomain(adapter: adapter, model: model).0, other)
        XCTAssertNil(try TriagePipeline.inputDomain(adapter: nil, model: nil).0)
    }

    /// Triage on the tiny VLM: without a record nothing is checked and records say so; with a record that
    /// has never seen pictures, a picture is never a confident patent and carries the reason; with a record
    /// made from the very image, it is inside and decided as without one.
    func testTriageRoutesImagesOutsideTheDomainToReview() throws {
        let base = try TestPaths.modelWithTokenizer(TestPaths.fixture("gemma3-vlm/model"))
        let png = TestPaths.fixture("triage/images/dsa-64.png").path
        let plain = try TriagePipeline(loaded: try ModelLoader.load(path: base.path, computeMode: .f32), profile: .standard, mode: .score,
                                       fingerprintCache: nil)
        XCTAssertNil(plain.inputDomain)
        let unchecked = plain.run(.image(path: png))
        XCTAssertEqual(unchecked.status, .processed, unchecked.error ?? "")
        XCTAssertFalse(unchecked.domainChecked)
        XCTAssertNil(unchecked.inTrainingDomain)
        XCTAssertNil(unchecked.images.first?.domain)
        XCTAssertTrue(try unchecked.jsonLine().contains("\"domain_checked\":false"))

        // A model trained on DICOM only (the record says so): the picture is outside.
        let dicomOnly = try InputDomain(measuring: [try XCTUnwrap(ModelImageStatistics(gray: image(120), frames: 8, sourceKind: .dicomSubtracted))],
                                        source: "t")
        let adapterLike = FileManager.default.temporaryDirectory.appendingPathComponent("domain-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: adapterLike, withIntermediateDirectories: true)
        try dicomOnly.write(to: base.appendingPathComponent(InputDomain.fileName))
        let checked = try TriagePipeline(loaded: try ModelLoader.load(path: base.path, computeMode: .f32), profile: .standard, mode: .score,
                                         fingerprintCache: nil)
        XCTAssertEqual(checked.inputDomain, dicomOnly)
        let out = checked.run(.image(path: png))
        XCTAssertEqual(out.status, .processed, out.error ?? "")
        XCTAssertTrue(out.domainChecked)
        XCTAssertEqual(out.inTrainingDomain, false)
        XCTAssertNotEqual(out.decision, .patent)
        // Same scores as without the record; only the decision's safety net differs.
        XCTAssertEqual(out.pBlocked, unchecked.pBlocked)
        let reason = "outside the training domain: source kind picture (a PNG/JPEG picture) not seen in training (trained on dicom_subtracted)"
        XCTAssertTrue(out.reasons.contains(reason), "\(out.reasons)")
        if unchecked.decision == .patent { XCTAssertEqual(out.decision, .manualReview) } else { XCTAssertEqual(out.decision, unchecked.decision) }

        // A record made from this very picture: inside, decided exactly as without a record.
        let images = try TriagePipeline.modelImages(path: png, profile: .standard)
        let own = try InputDomain(measuring: images.compactMap(ModelImageStatistics.init), source: "t")
        try own.write(to: adapterLike.appendingPathComponent(InputDomain.fileName))
        XCTAssertEqual(try TriagePipeline.inputDomain(adapter: adapterLike, model: base).0, own)
        try own.write(to: base.appendingPathComponent(InputDomain.fileName))
        let same = try TriagePipeline(loaded: try ModelLoader.load(path: base.path, computeMode: .f32), profile: .standard, mode: .score,
                                      fingerprintCache: nil)
        let inside = same.run(.image(path: png))
        XCTAssertEqual(inside.inTrainingDomain, true)
        XCTAssertEqual(inside.decision, unchecked.decision)
        XCTAssertEqual(inside.reasons, unchecked.reasons)
        XCTAssertEqual(inside.images.first?.domain?.sourceKind, .picture)
    }

    /// A pipeline-subtracted native run and a stored subtracted run are told apart.
    func testSourceKindFollowsHowTheImageWasMade() throws {
        // The fixtures' JSON says how each was made: mask-subtraction-sequence, configured-mask-frame, already-subtracted.
        func kinds(_ name: String) throws -> [InputSourceKind] {
            try TriagePipeline.modelImages(path: TestPaths.fixture("angiography/\(name).dcm").path, profile: .standard).map(\.sourceKind)
        }
        XCTAssertEqual(try kinds("xa_log"), [.dicomNative])
        XCTAssertEqual(try kinds("xa_nomask"), [.dicomNative])
        XCTAssertEqual(try kinds("xa_subtracted"), [.dicomSubtracted])
        let png = try TriagePipeline.modelImages(path: TestPaths.fixture("triage/images/dsa-64.png").path, profile: .standard)
        XCTAssertEqual(png.map(\.sourceKind), [.picture])
        XCTAssertEqual(InputSourceKind(subtraction: .maskSequence), .dicomNative)
        XCTAssertEqual(InputSourceKind(subtraction: .configuredMaskFrame), .dicomNative)
        XCTAssertEqual(InputSourceKind(subtraction: .alreadySubtracted), .dicomSubtracted)
        XCTAssertEqual(InputSourceKind(subtraction: .notSubtracted), .dicomUnsubtracted)
    }
}
