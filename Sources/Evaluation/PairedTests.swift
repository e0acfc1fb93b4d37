import Foundation

/// McNemar's test on paired decisions.
public struct McNemarResult: Sendable, Equatable, Codable {
    /// Cases the first run got right and the second wrong.
    public var b: Int
    /// Cases the second run got right and the first wrong.
    public var c: Int
    /// "exact" (two-sided binomial, b + c < 25) or "chi_square_continuity".
    public var method: String
    /// The chi-square statistic (nil for the exact test).
    public var statistic: Double?
    public var pValue: Double

    enum CodingKeys: String, CodingKey { case b, c, method, statistic, pValue = "p_value" }
}

/// DeLong's test for two correlated AUROCs on the same cases.
public struct DeLongResult: Sendable, Equatable, Codable {
    public var aucA: Double
    public var aucB: Double
    public var difference: Double
    public var se: Double
    public var z: Double?
    public var pValue: Double?
    /// 95 % interval of the difference (normal approximation).
    public var ci: [Double]?

    enum CodingKeys: String, CodingKey {
        case difference, se, z, ci
        case aucA = "auc_a", aucB = "auc_b", pValue = "p_value"
    }
}

public enum PairedTests {
    /// Below this many discordant pairs McNemar uses the exact binomial test.
    public static let exactBelow = 25

    /// McNemar on discordant counts: exact two-sided binomial p = min(1, 2·P(X ≤ min(b, c))), X ~ Bin(b + c, ½),
    /// when b + c < 25; else χ² = (|b − c| − 1)² / (b + c) with one degree of freedom.
    public static func mcnemar(b: Int, c: Int, exact: Bool? = nil) -> McNemarResult {
        let useExact = exact ?? (b + c < exactBelow)
        if useExact {
            let p = min(1, 2 * Intervals.binomialHalfCDF(min(b, c), b + c))
            return McNemarResult(b: b, c: c, method: "exact", statistic: nil, pValue: p)
        }
        guard b + c > 0 else { return McNemarResult(b: b, c: c, method: "chi_square_continuity", statistic: 0, pValue: 1) }
        let d = Double(abs(b - c)) - 1
        let stat = d * d / Double(b + c)
        return McNemarResult(b: b, c: c, method: "chi_square_continuity", statistic: stat, pValue: Intervals.chiSquare1SF(stat))
    }

    /// McNemar on the correctness of two runs' decisions (a review counts as a blocked call).
    public static func mcnemar(labels: [Bool], flaggedA: [Bool], flaggedB: [Bool]) -> McNemarResult {
        var b = 0, c = 0
        for i in labels.indices {
            let ra = flaggedA[i] == labels[i], rb = flaggedB[i] == labels[i]
            if ra && !rb { b += 1 } else if rb && !ra { c += 1 }
        }
        return mcnemar(b: b, c: c)
    }

    /// Midranks (1-based, ties share the mean rank).
    static func midranks(_ x: [Double]) -> [Double] {
        let order = x.indices.sorted { x[$0] < x[$1] }
        var r = [Double](repeating: 0, count: x.count)
        var i = 0
        while i < order.count {
            var j = i
            while j + 1 < order.count && x[order[j + 1]] == x[order[i]] { j += 1 }
            let mid = Double(i + j) / 2 + 1
            for k in i...j { r[order[k]] = mid }
            i = j + 1
        }
        return r
    }

    /// DeLong et al. (1988) with the midrank computation of Sun & Xu (2014); nil without both classes.
    public static func delong(labels: [Bool], scoresA: [Double], scoresB: [Double]) -> DeLongResult? {
        let pos = labels.indices.filter { labels[$0] }, neg = labels.indices.filter { !labels[$0] }
        let m = pos.count, n = neg.count
        guard m > 0, n > 0 else { return nil }
        var v10: [[Double]] = [], v01: [[Double]] = [], aucs: [Double] = []
        for s in [scoresA, scoresB] {
            let px = pos.map { s[$0] }, ny = neg.map { s[$0] }
            let all = midranks(px + ny), rx = midranks(px), ry = midranks(ny)
            // Placement of a positive: the share of negatives below it (ties one half); of a negative: the share of positives above it.
            let p10 = (0..<m).map { (all[$0] - rx[$0]) / Double(n) }
            let p01 = (0..<n).map { 1 - (all[m + $0] - ry[$0]) / Double(m) }
            aucs.append(p10.reduce(0, +) / Double(m))
            v10.append(p10)
            v01.append(p01)
        }
        func cov(_ a: [Double], _ b: [Double]) -> Double {
            guard a.count > 1 else { return 0 }
            let ma = a.reduce(0, +) / Double(a.count), mb = b.reduce(0, +) / Double(b.count)
            var s = 0.0
            for i in a.indices { s += (a[i] - ma) * (b[i] - mb) }
            return s / Double(a.count - 1)
        }
        let var10 = cov(v10[0], v10[0]) + cov(v10[1], v10[1]) - 2 * cov(v10[0], v10[1])
        let var01 = cov(v01[0], v01[0]) + cov(v01[1], v01[1]) - 2 * cov(v01[0], v01[1])
        let variance = max(0, var10 / Double(m) + var01 / Double(n))
        let se = variance.squareRoot(), diff = aucs[0] - aucs[1]
        guard se > 0 else {
            return DeLongResult(aucA: aucs[0], aucB: aucs[1], difference: diff, se: 0, z: nil, pValue: diff == 0 ? 1 : nil, ci: nil)
        }
        let z = diff / se
        return DeLongResult(aucA: aucs[0], aucB: aucs[1], difference: diff, se: se, z: z, pValue: Intervals.normalTwoSidedP(z),
                            ci: [diff - Intervals.z95 * se, diff + Intervals.z95 * se])
    }
}

// Every key written, null where undefined (see NullEncoding.swift).
extension McNemarResult {
    public func encode(to encoder: Encoder) throws {
        var box = encoder.container(keyedBy: CodingKeys.self)
        try box.encodeOrNull(b, forKey: .b)
        try box.encodeOrNull(c, forKey: .c)
        try box.encodeOrNull(method, forKey: .method)
        try box.encodeOrNull(statistic, forKey: .statistic)
        try box.encodeOrNull(pValue, forKey: .pValue)
    }
}

extension DeLongResult {
    public func encode(to encoder: Encoder) throws {
        var box = encoder.container(keyedBy: CodingKeys.self)
        try box.encodeOrNull(aucA, forKey: .aucA)
        try box.encodeOrNull(aucB, forKey: .aucB)
        try box.encodeOrNull(difference, forKey: .difference)
        try box.encodeOrNull(se, forKey: .se)
        try box.encodeOrNull(z, forKey: .z)
        try box.encodeOrNull(pValue, forKey: .pValue)
        try box.encodeOrNull(ci, forKey: .ci)
    }
}
