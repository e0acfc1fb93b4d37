import Evaluation
import Foundation
import Imaging
import TestSupport
import XCTest

/// Renders the report of a realistic document in headless Chromium (Debian package `chromium`) and checks what a
/// reader would see: a screenshot that is not blank, with the charts drawn, and a DOM holding the four figures and
/// the confusion matrix after rendering.
final class ReportRenderingTests: XCTestCase {
    struct Finished {
        var status: Int32
        var output: String
        var timedOut: Bool
    }

    /// Runs `executable` with `arguments`, stdout and stderr to files (no pipe to fill up), killed after `timeout` seconds.
    static func run(_ executable: String, _ arguments: [String], timeout: TimeInterval, scratch: URL) throws -> Finished {
        let outURL = scratch.appendingPathComponent("stdout-\(UUID().uuidString).txt")
        let errURL = scratch.appendingPathComponent("stderr-\(UUID().uuidString).txt")
        _ = FileManager.default.createFile(atPath: outURL.path, contents: nil)
        _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
        let out = try FileHandle(forWritingTo: outURL)
        let err = try FileHandle(forWritingTo: errURL)
        defer {
            try? out.close()
            try? err.close()
        }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: executable)
        p.arguments = arguments
        p.standardOutput = out
        p.standardError = err
        p.standardInput = FileHandle.nullDevice
        try p.run()
        let deadline = Date().addingTimeInterval(timeout)
        var timedOut = false
        while p.isRunning {
            if Date() > deadline {
                timedOut = true
                p.terminate()
                Thread.sleep(forTimeInterval: 2)
                if p.isRunning { kill(p.processIdentifier, SIGKILL) }
                break
            }
            Thread.sleep(forTimeInterval: 0.1)
        }
        p.waitUntilExit()
        let stdout = (try? String(contentsOf: outURL, encoding: .utf8)) ?? ""
        let stderr = (try? String(contentsOf: errURL, encoding: .utf8)) ?? ""
        return Finished(status: p.terminationStatus, output: stdout + (stderr.isEmpty ? "" : "\n[stderr]\n" + stderr), timedOut: timedOut)
    }

    /// Flags for this Chromium (156, new headless mode): no sandbox (containers run as root), no GPU, a private
    /// profile directory so parallel runs cannot collide, device scale 1 so the PNG has the window's pixel size.
    static func chromiumArguments(profile: URL) -> [String] {
        ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
         "--no-default-browser-check", "--hide-scrollbars", "--force-device-scale-factor=1",
         "--user-data-dir=\(profile.path)"]
    }

    struct RenderFailure: Error, CustomStringConvertible {
        var description: String
    }

    struct PixelStatistics {
        var colours = 0
        var ink = 0
        var blueLeft = 0
        var blueRight = 0
        var red = 0
    }

    /// Distinct colours; "ink" = pixels other than the two page backgrounds (white, #f6f7f9); pixels of the
    /// curves' blue (#1f5fa8) in each half of the page; pixels of the warning / operating-point red (#b00020).
    static func statistics(_ image: RGBImage) -> PixelStatistics {
        var colours = Set<UInt32>()
        var st = PixelStatistics()
        let px = image.pixels
        for y in 0..<image.height {
            for x in 0..<image.width {
                let i = (y * image.width + x) * 3
                let r = px[i], g = px[i + 1], b = px[i + 2]
                colours.insert(UInt32(r) << 16 | UInt32(g) << 8 | UInt32(b))
                let background = (r == 255 && g == 255 && b == 255) || (r == 0xF6 && g == 0xF7 && b == 0xF9)
                if !background { st.ink += 1 }
                if abs(Int(r) - 0x1F) <= 12 && abs(Int(g) - 0x5F) <= 12 && abs(Int(b) - 0xA8) <= 12 {
                    if x < image.width / 2 { st.blueLeft += 1 } else { st.blueRight += 1 }
                }
                if abs(Int(r) - 0xB0) <= 12 && Int(g) <= 24 && abs(Int(b) - 0x20) <= 16 { st.red += 1 }
            }
        }
        st.colours = colours.count
        return st
    }

    /// Writes `doc`'s page into `dir` and screenshots it at 1200×3000.
    static func screenshot(_ doc: ReportDocument, chromium: String, dir: URL, name: String) throws -> (RGBImage, Finished) {
        let page = dir.appendingPathComponent("\(name).html")
        try HTMLReport.render(doc).write(to: page, atomically: true, encoding: .utf8)
        let shot = dir.appendingPathComponent("\(name).png")
        let run = try Self.run(chromium, chromiumArguments(profile: dir.appendingPathComponent("profile-\(name)"))
                                   + ["--screenshot=\(shot.path)", "--window-size=1200,3000", page.absoluteString],
                               timeout: 120, scratch: dir)
        guard !run.timedOut, run.status == 0, FileManager.default.fileExists(atPath: shot.path) else {
            throw RenderFailure(description: "chromium --screenshot failed (status \(run.status), timed out \(run.timedOut)):\n\(run.output.suffix(2000))")
        }
        return (try RGBImage(ImageDecoder.decode(contentsOf: shot)), run)
    }

    /// Control for the pixel checks: the same page without curves has (almost) none of the curves' blue, so the
    /// blue counts of the real test measure drawn charts, not page chrome.
    func testPixelChecksSeeMissingCharts() throws {
        guard let chromium = ExternalTool.locate("chromium") else {
            return XCTFail("chromium not found: install the Debian package `chromium` (scripts/bootstrap installs it)")
        }
        let dir = ExternalTool.temporaryPath("report-render-control")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        var doc = ReportSample.document()
        doc.roc = nil
        doc.pr = nil
        doc.calibration = nil
        doc.thresholdSweep = nil
        let (image, _) = try Self.screenshot(doc, chromium: chromium, dir: dir, name: "no-curves")
        let st = Self.statistics(image)
        print("control screenshot (no curves): blue px left \(st.blueLeft) right \(st.blueRight)")
        XCTAssertLessThan(st.blueLeft, 100)
        XCTAssertLessThan(st.blueRight, 100)
    }

    func testReportRendersInHeadlessChromium() throws {
        guard let chromium = ExternalTool.locate("chromium") else {
            return XCTFail("chromium not found: install the Debian package `chromium` (scripts/bootstrap installs it)")
        }
        let dir = ExternalTool.temporaryPath("report-render")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer {
            // REPORT_RENDER_KEEP=DIR keeps the page and the screenshot there for a look by eye.
            if let keep = ProcessInfo.processInfo.environment["REPORT_RENDER_KEEP"] {
                let dest = URL(fileURLWithPath: keep)
                try? FileManager.default.createDirectory(at: dest, withIntermediateDirectories: true)
                for name in ["report.html", "screenshot.png"] {
                    try? FileManager.default.removeItem(at: dest.appendingPathComponent(name))
                    try? FileManager.default.copyItem(at: dir.appendingPathComponent(name), to: dest.appendingPathComponent(name))
                }
            }
            try? FileManager.default.removeItem(at: dir)
        }
        let page = dir.appendingPathComponent("report.html")
        try HTMLReport.render(ReportSample.document()).write(to: page, atomically: true, encoding: .utf8)
        let shot = dir.appendingPathComponent("screenshot.png")
        let base = Self.chromiumArguments(profile: dir.appendingPathComponent("profile"))

        let shotRun = try Self.run(chromium, base + ["--screenshot=\(shot.path)", "--window-size=1200,3000", page.absoluteString],
                                   timeout: 120, scratch: dir)
        XCTAssertFalse(shotRun.timedOut, "chromium --screenshot timed out:\n\(shotRun.output.suffix(2000))")
        XCTAssertEqual(shotRun.status, 0, "chromium --screenshot failed:\n\(shotRun.output.suffix(2000))")
        guard FileManager.default.fileExists(atPath: shot.path) else {
            return XCTFail("chromium wrote no screenshot:\n\(shotRun.output.suffix(2000))")
        }
        let image = try RGBImage(ImageDecoder.decode(contentsOf: shot))
        XCTAssertEqual(image.width, 1200)
        XCTAssertEqual(image.height, 3000)

        let stats = Self.statistics(image)
        let (colours, ink, blueLeft, blueRight, red) = (stats.colours, stats.ink, stats.blueLeft, stats.blueRight, stats.red)
        let inkFraction = Double(ink) / Double(image.width * image.height)
        print("report screenshot: \(colours) distinct colours, ink fraction \(inkFraction), blue px left \(blueLeft) right \(blueRight), red px \(red)")
        XCTAssertGreaterThan(colours, 200, "screenshot looks blank: \(colours) distinct colours")
        XCTAssertGreaterThan(inkFraction, 0.03, "screenshot looks blank: ink fraction \(inkFraction)")
        // The four charts sit two per row, so curves are drawn in both halves of the page.
        XCTAssertGreaterThan(blueLeft, 600, "left-column charts not drawn")
        XCTAssertGreaterThan(blueRight, 600, "right-column charts not drawn")
        XCTAssertGreaterThan(red, 2000, "warning box / operating points not drawn")

        // The DOM after rendering holds the four figures, each with its SVG, and the confusion matrix.
        let domRun = try Self.run(chromium, base + ["--dump-dom", page.absoluteString], timeout: 120, scratch: dir)
        XCTAssertFalse(domRun.timedOut, "chromium --dump-dom timed out")
        XCTAssertEqual(domRun.status, 0, "chromium --dump-dom failed:\n\(domRun.output.suffix(2000))")
        let dom = domRun.output
        for id in HTMLReport.figureIDs {
            guard let start = dom.range(of: "<figure id=\"\(id)\" class=\"chart\">") else {
                XCTFail("\(id) missing from the rendered DOM")
                continue
            }
            let rest = dom[start.upperBound...]
            let end = rest.range(of: "</figure>")?.lowerBound ?? rest.endIndex
            let body = rest[..<end]
            XCTAssertTrue(body.contains("<svg"), "\(id) has no SVG in the rendered DOM")
            XCTAssertTrue(body.contains("<polyline"), "\(id) has no curve in the rendered DOM")
        }
        XCTAssertTrue(dom.contains("<table id=\"\(HTMLReport.confusionID)\""), "confusion matrix missing from the rendered DOM")
        XCTAssertTrue(dom.contains("TP 4</td>"))
    }
}
