import Foundation
import MedGemma

/// A one-line progress bar with rate and ETA on stderr.
final class ProgressBar {
    let total: Int
    let enabled: Bool
    var done = 0
    let start = ContinuousClock().now

    init(total: Int, enabled: Bool) {
        self.total = total
        self.enabled = enabled
        draw()
    }

    func advance() {
        done += 1
        draw()
    }

    func draw() {
        guard enabled, total > 0 else { return }
        let elapsed = (ContinuousClock().now - start).seconds
        let width = 30
        let filled = done * width / total
        var line = "\r[" + String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled) + "] \(done)/\(total)"
        if done > 0 {
            let rate = Double(done) / max(elapsed, 1e-9)
            let eta = Double(total - done) / rate
            line += String(format: "  %.2f/s  ETA %@", rate, Self.clock(eta))
        }
        Console.err(line)
    }

    /// Erases the bar's line (carriage return + erase to end of line), so that a row written next to the same
    /// terminal starts at column 0 instead of after the bar's text; `advance` draws it again.
    func clear() {
        guard enabled, total > 0 else { return }
        Console.err(Self.eraseLine)
    }

    /// Leaves the terminal clean: the bar's line is erased, so the closing summary starts on an empty line.
    func finish() {
        clear()
    }

    /// ANSI "carriage return, erase in line" (CSI K).
    static let eraseLine = "\r\u{1B}[K"

    static func clock(_ s: Double) -> String {
        let t = Int(s.rounded())
        return String(format: "%d:%02d:%02d", t / 3600, (t / 60) % 60, t % 60)
    }
}
