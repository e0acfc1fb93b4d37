import Foundation

/// Failed logins per account name: after `maxFailures` within `window`, that name is refused (even with the
/// right password) until the oldest failure leaves the window. Names are compared case-insensitively and the
/// table is bounded, so guessing many names cannot grow memory without end.
actor LoginThrottle {
    private let maxFailures: Int
    private let window: TimeInterval
    private var failures: [String: [Date]] = [:]
    private static let maxNames = 10_000

    init(maxFailures: Int, window: TimeInterval) {
        self.maxFailures = maxFailures
        self.window = window
    }

    /// When `name` is locked out at `now`, the time the lockout ends; nil when it may try.
    func lockedUntil(_ name: String, now: Date) -> Date? {
        let recent = prune(Self.key(name), now: now)
        guard recent.count >= maxFailures, let oldest = recent.first else { return nil }
        return oldest.addingTimeInterval(window)
    }

    func recordFailure(_ name: String, now: Date) {
        let key = Self.key(name)
        var recent = prune(key, now: now)
        recent.append(now)
        if failures[key] == nil && failures.count >= Self.maxNames {
            // Forget the names whose failures are all outside the window first, then any one.
            failures = failures.filter { $0.value.contains { now.timeIntervalSince($0) < window } }
            if failures.count >= Self.maxNames, let victim = failures.keys.first { failures[victim] = nil }
        }
        failures[key] = Array(recent.suffix(maxFailures))
    }

    func recordSuccess(_ name: String) {
        failures[Self.key(name)] = nil
    }

    private func prune(_ key: String, now: Date) -> [Date] {
        let recent = (failures[key] ?? []).filter { now.timeIntervalSince($0) < window }
        failures[key] = recent.isEmpty ? nil : recent
        return recent
    }

    private static func key(_ name: String) -> String { String(name.lowercased().prefix(128)) }
}
