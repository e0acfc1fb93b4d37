import Angiography
import DICOM
import Foundation
import Imaging
import TestSupport
import XCTest

/// External tools the synth tests run (see TestSupport's ExternalTool).
enum SynthToolRunner {
    static func run(_ name: String, _ arguments: [String], package: String) throws -> (status: Int32, output: String) {
        try ExternalTool.run(name, arguments, package: package)
    }

    static func temporaryDirectory(_ label: String) -> URL { ExternalTool.temporaryPath(label) }
}

final class SynthGeneratorTests: XCTestCase {
    let small = SynthConfiguration(rows: 96, columns: 96, frames: 6)

    func files(under dir: URL) throws -> [String] {
        let e = FileManager.default.enumerator(atPath: dir.path)
        var out: [String] = []
        while let f = e?.nextObject() as? String {
            var isDir: ObjCBool = false
            if FileManager.default.fileExists(atPath: dir.appendingPathComponent(f).path, isDirectory: &isDir), !isDir.boolValue {
                out.append(f)
            }
        }
        return out.sorted()
    }

    func testSameSeedGivesSameBytes() throws {
        let a = SynthToolRunner.temporaryDirectory("synth-a"), b = SynthToolRunner.temporaryDirectory("synth-b")
        let c = SynthToolRunner.temporaryDirectory("synth-c")
        defer { for d in [a, b, c] { try? FileManager.default.removeItem(at: d) } }
        try SynthBatch.write(SynthBatchOptions(outputDirectory: a, count: 4, prevalence: 0.5, seed: 11, configuration: small))
        try SynthBatch.write(SynthBatchOptions(outputDirectory: b, count: 4, prevalence: 0.5, seed: 11, configuration: small))
        try SynthBatch.write(SynthBatchOptions(outputDirectory: c, count: 4, prevalence: 0.5, seed: 12, configuration: small))
        let names = try files(under: a)
        XCTAssertEqual(names.count, 4 * 3 + 2, "\(names)")
        // manifest.csv: one path,label row per DICOM run, in case order, native before subtracted.
        let labels = try String(contentsOf: a.appendingPathComponent("labels.csv"), encoding: .utf8).split(separator: "\n").dropFirst()
        var expected = "path,label\n"
        for row in labels {
            let f = row.split(separator: ",", omittingEmptySubsequences: false)
            expected += "\(f[2]),\(f[1])\n\(f[3]),\(f[1])\n"
        }
        XCTAssertEqual(try String(contentsOf: a.appendingPathComponent("manifest.csv"), encoding: .utf8), expected)
        XCTAssertEqual(try files(under: b), names)
        var differing = 0
        for n in names {
            let x = try Data(contentsOf: a.appendingPathComponent(n))
            XCTAssertEqual(x, try Data(contentsOf: b.appendingPathComponent(n)), n)
            if x != (try? Data(contentsOf: c.appendingPathComponent(n))) { differing += 1 }
        }
        // Another seed changes every image and the manifest.
        XCTAssertEqual(differing, names.count)
    }

    func testPrevalenceGivesExactCounts() throws {
        for (count, p, expected) in [(10, 0.3, 3), (7, 0.5, 4), (5, 0.0, 0), (5, 1.0, 5), (1, 0.5, 1), (3, 0.49, 1), (100, 0.25, 25)] {
            let plan = try SynthBatch.plan(count: count, prevalence: p, seed: 3)
            XCTAssertEqual(plan.count, count)
            XCTAssertEqual(plan.filter(\.blocked).count, expected, "count \(count) prevalence \(p)")
            XCTAssertEqual(Set(plan.map(\.seed)).count, count, "case seeds are distinct")
        }
        // The order is shuffled by the seed: not all seeds put the blocked cases in the same places.
        let orders = Set(try (1...6).map { s in try SynthBatch.plan(count: 20, prevalence: 0.5, seed: UInt64(s)).map(\.blocked) })
        XCTAssertGreaterThan(orders.count, 1)
        XCTAssertEqual(try SynthBatch.plan(count: 9, prevalence: 0.4, seed: 8).map(\.blocked),
                       try SynthBatch.plan(count: 9, prevalence: 0.4, seed: 8).map(\.blocked))
        XCTAssertThrowsError(try SynthBatch.plan(count: 0, prevalence: 0.5, seed: 1))
        XCTAssertThrowsError(try SynthBatch.plan(count: 5, prevalence: 1.5, seed: 1))
        XCTAssertThrowsError(try SynthBatch.plan(count: 5, prevalence: .nan, seed: 1))
    }

    func testLabelsManifest() throws {
        let dir = SynthToolRunner.temporaryDirectory("synth-labels")
        defer { try? FileManager.default.removeItem(at: dir) }
        let records = try SynthBatch.write(SynthBatchOptions(outputDirectory: dir, count: 5, prevalence: 0.4, seed: 5,
                                                             configuration: small))
        let text = try String(contentsOf: dir.appendingPathComponent("labels.csv"), encoding: .utf8)
        let lines = text.split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.count, 6)
        XCTAssertEqual(lines[0], "case_id,label,native_dicom,subtracted_dicom,png,transfer_syntax,transfer_syntax_uid,seed,rows,columns,frames,occluded_vessel,occlusion_generation,occlusion_x,occlusion_y,occlusion_radius,collaterals")
        let plan = try SynthBatch.plan(count: 5, prevalence: 0.4, seed: 5)
        let syntaxes = [("explicit-le", "1.2.840.10008.1.2.1"), ("jpeg-lossless", "1.2.840.10008.1.2.4.70"),
                        ("rle", "1.2.840.10008.1.2.5"), ("implicit-le", "1.2.840.10008.1.2"), ("explicit-le", "1.2.840.10008.1.2.1")]
        var blocked = 0
        for i in 0..<5 {
            let f = lines[i + 1].split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            XCTAssertEqual(f.count, 17, lines[i + 1])
            let id = "case_000\(i + 1)"
            XCTAssertEqual(f[0], id)
            XCTAssertEqual(f[1], plan[i].blocked ? "blocked" : "patent")
            XCTAssertEqual(f[2], "dicom/\(id)_native.dcm")
            XCTAssertEqual(f[3], "dicom/\(id)_subtracted.dcm")
            XCTAssertEqual(f[4], "png/\(id).png")
            XCTAssertEqual(f[5], syntaxes[i].0)
            XCTAssertEqual(f[6], syntaxes[i].1)
            XCTAssertEqual(f[7], String(plan[i].seed))
            XCTAssertEqual(Array(f[8...10]), ["96", "96", "6"])
            for k in 2...4 { XCTAssertTrue(FileManager.default.fileExists(atPath: dir.appendingPathComponent(f[k]).path), f[k]) }
            if plan[i].blocked {
                blocked += 1
                let o = try XCTUnwrap(records[i].occlusion)
                XCTAssertEqual(f[11], String(o.vessel))
                XCTAssertEqual(f[12], String(o.generation))
                XCTAssertEqual(Double(f[13]) ?? -1, o.x, accuracy: 0.051)
                XCTAssertEqual(Double(f[14]) ?? -1, o.y, accuracy: 0.051)
                XCTAssertEqual(Int(f[16]), o.collaterals)
                XCTAssertTrue((0...96).contains(o.x) && (0...96).contains(o.y), "cut-off inside the image")
            } else {
                XCTAssertEqual(Array(f[11...16]), ["", "", "", "", "", ""])
                XCTAssertNil(records[i].occlusion)
            }
        }
        XCTAssertEqual(blocked, 2)
    }

    /// Integrated contrast over `mask`, all frames: the sum of 2048 − subtracted value (noise averages out).
    func integratedContrast(_ run: SynthRun, _ mask: [Bool]) -> Double {
        var total = 0.0
        for f in run.subtracted {
            for i in 0..<f.count where mask[i] { total += 2048 - Double(f[i]) }
        }
        return total
    }

    func testBlockedCaseLacksDistalTree() throws {
        let cfg = SynthConfiguration(rows: 128, columns: 128, frames: 8)
        var checked = 0
        for seed: UInt64 in [1, 2, 3, 4, 5, 6] {
            let blocked = try SynthAngiogram.generate(seed: seed, blocked: true, configuration: cfg)
            let patent = try SynthAngiogram.generate(seed: seed, blocked: false, configuration: cfg)
            let occlusion = try XCTUnwrap(blocked.occlusion)
            XCTAssertNil(patent.occlusion)
            // The tree is shared: the patent twin renders exactly the blocked case's patent tree.
            XCTAssertEqual(patent.tree.rendered.count, blocked.tree.patent.count)
            // Distal territory: the removed vessels of the patent tree, minus anything still rendered when blocked.
            var removed = occlusion.removedVessels.map { blocked.tree.patent[$0] }
            var cutVessel = blocked.tree.patent[occlusion.vessel]
            let stumpLength = blocked.tree.rendered.first { $0.points.first == cutVessel.points.first }?.points.count ?? 0
            cutVessel.points = Array(cutVessel.points.dropFirst(stumpLength + 3))
            cutVessel.radii = Array(cutVessel.radii.dropFirst(stumpLength + 3))
            cutVessel.arrivals = Array(cutVessel.arrivals.dropFirst(stumpLength + 3))
            cutVessel.joinRadius = 0
            removed.append(cutVessel)
            let distal = SynthAngiogram.coverage(of: removed, rows: 128, columns: 128)
            // Collaterals are allowed into the territory; their pixels are left out of the comparison.
            let kept = SynthAngiogram.coverage(of: blocked.tree.rendered, rows: 128, columns: 128)
            let region = zip(distal, kept).map { $0 && !$1 }
            let pixels = region.filter { $0 }.count
            guard pixels >= 30 else { continue }
            checked += 1
            let p = integratedContrast(patent, region), b = integratedContrast(blocked, region)
            XCTAssertGreaterThan(p, Double(pixels) * 20, "seed \(seed): patent twin fills the distal tree")
            XCTAssertLessThan(b, 0.3 * p, "seed \(seed): blocked case has contrast \(b) vs patent \(p) distal to the cut")
            // Proximal to the cut the two agree (same tree, noise, motion); trunk contrast within 10 %.
            let trunk = SynthAngiogram.coverage(of: [blocked.tree.rendered[0]], rows: 128, columns: 128)
            let proximal = zip(trunk, region).map { $0 && !$1 }
            let pt = integratedContrast(patent, proximal), bt = integratedContrast(blocked, proximal)
            XCTAssertEqual(bt / pt, 1, accuracy: 0.1, "seed \(seed): trunk contrast")
        }
        XCTAssertGreaterThanOrEqual(checked, 4)
    }

    /// Proximal occlusions (generations 0…1, no collaterals) cut the trunk or a first branch and remove far
    /// more of the tree than the default (generations 1…2); the default's draws are unchanged by the option.
    func testOcclusionGenerationsAndCollateralsOption() throws {
        let proximal = SynthConfiguration(rows: 128, columns: 128, frames: 8, occlusionGenerations: 0...1, collateralProbability: 0)
        let standard = SynthConfiguration(rows: 128, columns: 128, frames: 8)
        var removedProximal = 0, removedStandard = 0
        for seed: UInt64 in 1...12 {
            let p = try XCTUnwrap(try SynthAngiogram.generate(seed: seed, blocked: true, configuration: proximal).occlusion)
            XCTAssertTrue((0...1).contains(p.generation), "seed \(seed): generation \(p.generation)")
            XCTAssertEqual(p.collaterals, 0)
            removedProximal += p.removedVessels.count
            let s = try XCTUnwrap(try SynthAngiogram.generate(seed: seed, blocked: true, configuration: standard).occlusion)
            XCTAssertTrue((1...2).contains(s.generation) || s.vessel == 0, "seed \(seed): generation \(s.generation)")
            removedStandard += s.removedVessels.count
            // Explicit defaults give the very same case as the plain configuration.
            let explicit = SynthConfiguration(rows: 128, columns: 128, frames: 8, occlusionGenerations: 1...2, collateralProbability: 0.5)
            XCTAssertEqual(try SynthAngiogram.generate(seed: seed, blocked: true, configuration: explicit).occlusion, s)
        }
        XCTAssertGreaterThan(removedProximal, removedStandard)
        XCTAssertThrowsError(try SynthConfiguration(rows: 64, columns: 64, frames: 4, occlusionGenerations: 0...9).validate())
        XCTAssertThrowsError(try SynthConfiguration(rows: 64, columns: 64, frames: 4, collateralProbability: 1.5).validate())
    }

    func testContrastWashesInAndOut() throws {
        let cfg = SynthConfiguration(rows: 96, columns: 96, frames: 12)
        let run = try SynthAngiogram.generate(seed: 21, blocked: false, configuration: cfg)
        let tree = SynthAngiogram.coverage(of: run.tree.rendered, rows: 96, columns: 96)
        let curve = run.subtracted.map { f in zip(f, tree).reduce(0.0) { $0 + ($1.1 ? max(0, 2048 - Double($1.0)) : 0) } }
        XCTAssertEqual(curve[0], 0, "the mask frame subtracts to exactly 2048")
        let peak = try XCTUnwrap(curve.indices.max { curve[$0] < curve[$1] })
        XCTAssertGreaterThan(peak, 1, "contrast arrives after the mask frames: \(curve)")
        XCTAssertLessThan(peak, 11, "and washes out before the end: \(curve)")
        XCTAssertLessThan(curve[11], 0.6 * curve[peak], "\(curve)")
        XCTAssertLessThan(curve[1], 0.3 * curve[peak], "\(curve)")
        XCTAssertEqual(run.motion[0], SynthPoint(0, 0))
        XCTAssertTrue(run.motion.dropFirst().contains { $0 != SynthPoint(0, 0) }, "patient motion between frames")
    }

    func testPNGIsMinimumIntensityProjectionOfSubtraction() throws {
        let dir = SynthToolRunner.temporaryDirectory("synth-png")
        defer { try? FileManager.default.removeItem(at: dir) }
        let records = try SynthBatch.write(SynthBatchOptions(outputDirectory: dir, count: 1, prevalence: 0, seed: 9,
                                                             configuration: small))
        let r = records[0]
        let png = try ImageDecoder.decode(contentsOf: dir.appendingPathComponent(r.pngFile))
        XCTAssertEqual([png.width, png.height, png.channels, png.bitDepth], [96, 96, 1, 8])
        guard case let .uint8(gray) = png.samples else { return XCTFail("not 8-bit") }
        // Independent of the generator's arrays: from the subtracted DICOM, 235 + 500 · min over frames 2… of
        // (stored − 2048)/3000, which matches to within the rounding of the stored values.
        let file = try DICOMFile(url: dir.appendingPathComponent(try XCTUnwrap(r.subtractedFile)))
        let frames = try PixelDataReader(file: file).frames().map { $0.int32Values() }
        var worst = 0.0
        for i in 0..<gray.count {
            let m = frames.dropFirst().map { Double($0[i]) }.min() ?? 2048
            let expected = min(max(235 + 500 * (m - 2048) / 3000, 0), 255)
            worst = max(worst, abs(Double(gray[i]) - expected))
        }
        XCTAssertLessThanOrEqual(worst, 0.75)
        // Dark vessels on a light background.
        let run = try SynthAngiogram.generate(seed: r.seed, blocked: false, configuration: small)
        XCTAssertEqual(run.minimumIntensityProjection, gray)
        let trunk = SynthAngiogram.coverage(of: [run.tree.rendered[0]], rows: 96, columns: 96)
        let tree = SynthAngiogram.coverage(of: run.tree.rendered, rows: 96, columns: 96)
        let inTrunk = zip(gray, trunk).filter(\.1).map { Double($0.0) }
        let background = zip(gray, tree).filter { !$0.1 }.map { Double($0.0) }
        let meanTrunk = inTrunk.reduce(0, +) / Double(inTrunk.count)
        let meanBackground = background.reduce(0, +) / Double(background.count)
        XCTAssertGreaterThan(meanBackground, 170)
        XCTAssertLessThan(meanTrunk, meanBackground - 50)
    }

    func testInvalidArgumentsThrow() throws {
        XCTAssertThrowsError(try SynthConfiguration(rows: 8, columns: 96, frames: 6).validate())
        XCTAssertThrowsError(try SynthConfiguration(rows: 96, columns: 96, frames: 1).validate())
        XCTAssertThrowsError(try SynthAngiogram.generate(seed: 1, blocked: false, configuration: SynthConfiguration(rows: 96, columns: 96, frames: 0)))
        let dir = SynthToolRunner.temporaryDirectory("synth-nonempty")
        defer { try? FileManager.default.removeItem(at: dir) }
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try Data("x".utf8).write(to: dir.appendingPathComponent("other.txt"))
        XCTAssertThrowsError(try SynthBatch.write(SynthBatchOptions(outputDirectory: dir, count: 1, configuration: small))) { e in
            XCTAssertTrue("\(e)".contains(dir.path), "\(e)")
        }
        XCTAssertThrowsError(try SynthBatch.write(SynthBatchOptions(outputDirectory: dir.appendingPathComponent("new"), count: 1,
                                                                    configuration: small, runs: [])))
    }
}
