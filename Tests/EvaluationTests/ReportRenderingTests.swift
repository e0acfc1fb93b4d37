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

    func testReportRendersInHeadlessChromium() throws {
        guard let chromium = ExternalTool.locate("chromium") else {
            return XCTFail("chromium not found: install the Debian package `chromium` (scripts/bootstrap installs it)")
        }
        let dir = ExternalTool.temporaryPath("report-render")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
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

        // Not blank: many distinct colours (anti-aliased text and curves) and plenty of ink besides the two
        // page backgrounds (white, #f6f7f9).
        var colours = Set<UInt32>()
        var ink = 0
        var blueLeft = 0, blueRight = 0, red = 0
        let px = image.pixels
        for y in 0..<image.height {
            for x in 0..<image.width {
                let i = (y * image.width + x) * 3
                let r = px[i], g = px[i + 1], b = px[i + 2]
                colours.insert(UInt32(r) << 16 | UInt32(g) << 8 | UInt32(b))
                let background = (r == 255 && g == 255 && b == 255) || (r == 0xF6 && g == 0xF7 && b == 0xF9)
                if !background { ink += 1 }
                // The curves' blue (#1f5fa8) and the warning / operating-point red (#b00020), with a little slack.
                if abs(Int(r) - 0x1F) <= 12 && abs(Int(g) - 0x5F) <= 12 && abs(Int(b) - 0xA8) <= 12 {
                    if x < image.width / 2 { blueLeft += 1 } else { blueRight += 1 }
                }
                if abs(Int(r) - 0xB0) <= 12 && Int(g) <= 24 && abs(Int(b) - 0x20) <= 16 { red += 1 }
            }
        }
        let inkFraction = Double(ink) / Double(image.width * image.height)
        print("report screenshot: \(colours.count) distinct colours, ink fraction \(inkFraction), blue px left \(blueLeft) right \(blueRight), red px \(red)")
        XCTAssertGreaterThan(colours.count, 200, "screenshot looks blank: \(colours.count) distinct colours")
        XCTAssertGreaterThan(inkFraction, 0.03, "screenshot looks blank: ink fraction \(inkFraction)")
        // The four charts sit two per row, so curves are drawn in both halves of the page.
        XCTAssertGreaterThan(blueLeft, 1500, "left-column charts not drawn")
        XCTAssertGreaterThan(blueRight, 1500, "right-column charts not drawn")
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
