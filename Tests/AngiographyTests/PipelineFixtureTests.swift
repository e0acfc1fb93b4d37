import Angiography
import DICOM
import Foundation
import ModelFiles
import XCTest

/// The display pipeline against numpy's independent computation (tools/make_angiography_fixtures.py).
final class PipelineFixtureTests: XCTestCase {
    /// (fixture with expectations, DICOM file it reads, configured mask frame)
    static let runs: [(String, String, Int)] = [
        ("xa_lin_avgsub", "xa_lin_avgsub", 1), ("xa_lin_shift", "xa_lin_shift", 1), ("xa_log", "xa_log", 1),
        ("xa_tid", "xa_tid", 1), ("xa_nomask", "xa_nomask", 1), ("xa_nomask_mask2", "xa_nomask", 2),
        ("xa_subtracted", "xa_subtracted", 1), ("xa_subtracted_exact", "xa_subtracted_exact", 1),
        ("xa_sigmoid", "xa_sigmoid", 1), ("xa_mono1", "xa_mono1", 1), ("exa_enhanced", "exa_enhanced", 1),
        ("xa_modality_table", "xa_modality_table", 1),
    ]

    func testStoredValuesMatchPydicom() throws {
        for name in ["xa_lin_avgsub", "xa_log", "xa_mono1", "exa_enhanced", "ct", "us_rgb", "xa_implicit", "rf_run"] {
            let frames = try AngioFixtures.frames(name)
            let exp = try AngioFixtures.npy(name + ".stored.npy")
            XCTAssertEqual(exp.shape.first, frames.count, name)
            let got = frames.flatMap { $0.int32Values() }
            let want: [Int32]
            switch exp.data {
            case let .uint8(a): want = a.map(Int32.init)
            case let .uint16(a): want = a.map(Int32.init)
            case let .int16(a): want = a.map(Int32.init)
            default: XCTFail("\(name): unexpected dtype \(exp.dtype)"); continue
            }
            XCTAssertEqual(got, want, name)
        }
    }

    func testSubtractionMatchesNumpy() throws {
        for (name, dcm, mask) in Self.runs {
            let exp = try AngioFixtures.json(name)
            let attributes = try AngiogramAttributes(file: AngioFixtures.file(dcm))
            let run = try MaskSubtraction(fallbackMaskFrame: mask).run(frames: AngioFixtures.frames(dcm), attributes: attributes)
            XCTAssertEqual(run.frameNumbers, exp["candidate_frames"] as? [Int], "\(name): frames offered")
            XCTAssertEqual(run.record.maskFrames, exp["mask_frames"] as? [Int], "\(name): mask frames")
            XCTAssertEqual(run.record.method.rawValue, exp["subtraction"] as? String, "\(name): method")
            let sub = try AngioFixtures.npy(name + ".sub.npy")
            assertClose(run.values.flatMap { $0 }, sub.floats(), "\(name): subtracted frames")
            assertClose(FrameStrategy.minimumProjection(run.values), try AngioFixtures.npy(name + ".minip.npy").floats(), "\(name): minIP")
            let means = FrameStrategy.means(run.values)
            for (m, e) in zip(means, exp["frame_means"] as? [Double] ?? []) {
                XCTAssertEqual(m, e, accuracy: 1e-5 * max(1, abs(e)), "\(name): frame mean")
            }
            let peak = FrameStrategy.peakOpacification.compose(run)
            XCTAssertEqual(peak.first?.frameNumbers, [exp["peak_frame"] as? Int ?? -1], "\(name): peak frame")
        }
    }

    func testModelImagesMatchNumpy() throws {
        for (name, dcm, mask) in Self.runs {
            let exp = try AngioFixtures.json(name)
            let file = try AngioFixtures.file(dcm)
            let windows = try XCTUnwrap(exp["windows"] as? [String: Any], name)
            for strategy in FrameStrategy.allCases {
                let builder = ModelInputBuilder(options: ModelInputOptions(strategy: strategy, fallbackMaskFrame: mask))
                let result = try builder.build(file)
                XCTAssertEqual(result.decision.route, .triage, name)
                let record = try XCTUnwrap(result.record, name)
                let expectedWindow = try XCTUnwrap((windows[strategy.rawValue] as? [String: Any])?["window"] as? [Any], name)
                XCTAssertEqual(record.window.source.rawValue, expectedWindow.first as? String, "\(name) \(strategy): window source")
                if strategy == .everyFrame {
                    let every = try AngioFixtures.npy(name + ".model_every.npy")
                    XCTAssertEqual(result.images.count, every.shape[0], "\(name): every-frame image count")
                    XCTAssertEqual(result.images.map(\.frameNumbers), (exp["candidate_frames"] as? [Int] ?? []).map { [$0] }, name)
                    assertGrayClose(result.images.flatMap(\.gray), every.uint8s, "\(name) every")
                } else {
                    let want = try AngioFixtures.npy(name + ".model_\(strategy.rawValue).npy")
                    XCTAssertEqual(result.images.count, 1, name)
                    let image = try XCTUnwrap(result.images.first)
                    XCTAssertEqual([image.height, image.width], want.shape, name)
                    assertGrayClose(image.gray, want.uint8s, "\(name) \(strategy)")
                    let expectedFrames = strategy == .peakOpacification ? [exp["peak_frame"] as? Int ?? -1] : exp["candidate_frames"] as? [Int]
                    XCTAssertEqual(image.frameNumbers, expectedFrames, "\(name) \(strategy): chosen frames")
                }
            }
        }
    }

    func testRecordsSayWhatWasDone() throws {
        let sub = try ModelInputBuilder().build(AngioFixtures.file("xa_lin_avgsub"))
        let r = try XCTUnwrap(sub.record)
        XCTAssertEqual(r.subtraction.operations, ["AVG_SUB"])
        XCTAssertEqual(r.subtraction.intensityRelationship, "LIN")
        XCTAssertEqual(r.strategy, .minimumIntensityProjection)
        XCTAssertFalse(r.inverted)

        let mono1 = try XCTUnwrap(ModelInputBuilder().build(AngioFixtures.file("xa_mono1")).record)
        XCTAssertTrue(mono1.inverted)
        XCTAssertEqual(mono1.window, VOIWindow(source: .file, center: 1000, width: 800, function: .linear))
        XCTAssertTrue(mono1.notes.contains { $0.contains("2 VOI windows") }, "\(mono1.notes)")
        XCTAssertTrue(mono1.notes.contains { $0.contains("single-frame native") }, "\(mono1.notes)")
        XCTAssertNil(mono1.strategy)

        let nomask = try XCTUnwrap(ModelInputBuilder().build(AngioFixtures.file("xa_nomask")).record)
        XCTAssertTrue(nomask.notes.contains { $0.contains("no Mask Subtraction Sequence") }, "\(nomask.notes)")

        let shift = try XCTUnwrap(ModelInputBuilder().build(AngioFixtures.file("xa_lin_shift")).record)
        XCTAssertTrue(shift.notes.contains { $0.contains("sub-pixel shift") }, "\(shift.notes)")
        // Frame 6 lies outside the Applicable Frame Range 2–5.
        XCTAssertTrue(shift.notes.contains { $0.contains("1 frame(s) outside") }, "\(shift.notes)")
    }

    func testEnhancedXAReadsFunctionalGroups() throws {
        let a = try AngiogramAttributes(file: AngioFixtures.file("exa_enhanced"))
        XCTAssertEqual(a.frameType, ["ORIGINAL", "PRIMARY", "VASCULAR", "NONE"])
        XCTAssertEqual(a.pixelIntensityRelationship, .linear)
        XCTAssertEqual(a.modalityLUTs.count, 4)
        XCTAssertEqual(a.modalityLUT(frame: 3), ModalityLUT(kind: .rescale(slope: 1, intercept: 30)))
        XCTAssertEqual(a.window, FileWindow(center: 2000, width: 4000))
        XCTAssertFalse(a.isSubtracted)
        XCTAssertEqual(a.maskSubtraction, [MaskSubtractionItem(operation: .averageSubtraction, maskFrameNumbers: [1])])
    }

    func testModalityLUTSequenceIsRead() throws {
        let a = try AngiogramAttributes(file: AngioFixtures.file("xa_modality_table"))
        guard case let .table(first, values) = a.modalityLUT(frame: 0).kind else { return XCTFail("expected a table") }
        XCTAssertEqual(first, 0)
        XCTAssertEqual(values.count, 4096)
        // The generator's curve: round(4095 · sqrt(i / 4095)); i = 1024 → 2047.75 → 2048.
        XCTAssertEqual(values[1024], 2048)
        XCTAssertEqual(values[4095], 4095)
    }

    func testMaskItemsAreRead() throws {
        let a = try AngiogramAttributes(file: AngioFixtures.file("xa_lin_shift"))
        let item = try XCTUnwrap(a.maskSubtraction.first)
        XCTAssertEqual(item.maskFrameNumbers, [1])
        XCTAssertEqual(item.applicableFrameRanges, [2...5])
        XCTAssertEqual(item.contrastFrameAveraging, 2)
        XCTAssertEqual(item.subPixelShift?.row, 0.25)
        XCTAssertEqual(item.subPixelShift?.column, -0.5)
        XCTAssertEqual(a.recommendedViewingMode, "SUB")
        let tid = try AngiogramAttributes(file: AngioFixtures.file("xa_tid"))
        XCTAssertEqual(tid.maskSubtraction.first?.operation, .timeIntervalDifferencing)
        XCTAssertEqual(tid.maskSubtraction.first?.tidOffset, 2)
    }

    func testBadMaskFrameNamesFileAndAttribute() throws {
        XCTAssertThrowsError(try ModelInputBuilder().build(AngioFixtures.file("xa_bad_mask"))) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("xa_bad_mask.dcm"), text)
            XCTAssertTrue(text.contains("Mask Frame Numbers"), text)
            XCTAssertTrue(text.contains("9"), text)
        }
    }

    func testConfiguredMaskFrameOutOfRange() throws {
        let builder = ModelInputBuilder(options: ModelInputOptions(fallbackMaskFrame: 7))
        XCTAssertThrowsError(try builder.build(AngioFixtures.file("xa_nomask"))) { error in
            XCTAssertTrue("\(error)".contains("configured mask frame"), "\(error)")
            XCTAssertTrue("\(error)".contains("xa_nomask.dcm"), "\(error)")
        }
    }

    func testTruncatedPixelDataIsAnError() throws {
        let data = try Data(contentsOf: AngioFixtures.url("xa_lin_avgsub.dcm"))
        // Either the parser (Pixel Data length past the end) or the pixel reader refuses it, naming the file.
        XCTAssertThrowsError(try ModelInputBuilder().build(DICOMFile(data: data.prefix(data.count - 3000), source: "cut.dcm"))) { error in
            XCTAssertTrue("\(error)".contains("cut.dcm"), "\(error)")
        }
    }

    func testSkippedFileGetsNoImageUnlessAsked() throws {
        let ct = try AngioFixtures.file("ct")
        let plain = try ModelInputBuilder().build(ct)
        XCTAssertEqual(plain.decision.route, .skip)
        XCTAssertTrue(plain.images.isEmpty)
        let shown = try ModelInputBuilder().build(ct, displaySkipped: true)
        XCTAssertEqual(shown.images.count, 1)
        XCTAssertEqual(shown.record?.subtraction.method, .notSubtracted)
        // CT display: percentile window of the rescaled stored values (rescale 1, 0 here).
        let stored = try AngioFixtures.npy("ct.stored.npy").floats()
        let w = VOIWindow.percentile(of: stored)
        XCTAssertEqual(shown.images[0].gray, w.render(stored, invert: false))
        // A colour image and a file without pixels give no display image and no error.
        XCTAssertTrue(try ModelInputBuilder().build(AngioFixtures.file("us_rgb"), displaySkipped: true).images.isEmpty)
        XCTAssertTrue(try ModelInputBuilder().build(AngioFixtures.file("sr"), displaySkipped: true).images.isEmpty)
    }

    func testRadiofluoroscopyWhenEnabled() throws {
        let rf = try AngioFixtures.file("rf_run")
        XCTAssertEqual(try ModelInputBuilder().build(rf).decision.route, .skip)
        let enabled = ModelInputBuilder(options: ModelInputOptions(routing: RoutingPolicy(includeRadiofluoroscopic: true)))
        let run = try enabled.build(rf)
        XCTAssertEqual(run.decision.route, .triage)
        XCTAssertEqual(run.record?.subtraction.method, .configuredMaskFrame)
        XCTAssertEqual(run.images.first?.frameNumbers, [2, 3])
    }
}
