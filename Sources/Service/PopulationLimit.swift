import DICOM
import Foundation

/// The model card's population limit: not validated for children. The age is read from the source's
/// header in memory (PatientAge, or PatientBirthDate against StudyDate) and only the verdict leaves this
/// type — never the age or the dates.
public struct PopulationLimit: Sendable, Equatable {
    /// Patients younger than this (in whole years) are skipped.
    public var minimumAgeYears: Int

    public init(minimumAgeYears: Int) { self.minimumAgeYears = minimumAgeYears }

    /// The reason recorded for a skipped series.
    public static let pediatricReason = "pediatric: not validated"

    public enum Verdict: Sendable, Equatable {
        case adult
        case underAge
        /// Neither PatientAge nor a usable birth date and study date: the series proceeds, flagged.
        case unknown
    }

    public func check(_ dataset: DICOMDataset) -> Verdict {
        guard let years = PopulationLimit.ageInYears(dataset) else { return .unknown }
        return years < Double(minimumAgeYears) ? .underAge : .adult
    }

    /// Age in years from PatientAge (AS: nnnD/W/M/Y), else birth date against study (or series/acquisition) date.
    static func ageInYears(_ d: DICOMDataset) -> Double? {
        if let text = d.string(DICOMTag(0x0010, 0x1010)), let years = parseAgeString(text) { return years }
        guard let birth = d.string(DICOMTag(0x0010, 0x0030)).flatMap(parseDate) else { return nil }
        let studyDate = [DICOMTag(0x0008, 0x0020), DICOMTag(0x0008, 0x0021), DICOMTag(0x0008, 0x0022), DICOMTag(0x0008, 0x0023)]
            .lazy.compactMap { d.string($0).flatMap(parseDate) }.first
        guard let study = studyDate, study >= birth else { return nil }
        var years = study.year - birth.year
        if (study.month, study.day) < (birth.month, birth.day) { years -= 1 }
        return Double(years)
    }

    /// "045Y" → 45; "018M" → 1.5; "010W", "003D" likewise. nil when malformed.
    static func parseAgeString(_ raw: String) -> Double? {
        let s = raw.trimmingCharacters(in: .whitespaces)
        guard s.count == 4, let unit = s.last, let n = Int(s.prefix(3)) else { return nil }
        switch unit {
        case "Y", "y": return Double(n)
        case "M", "m": return Double(n) / 12
        case "W", "w": return Double(n) * 7 / 365.25
        case "D", "d": return Double(n) / 365.25
        default: return nil
        }
    }

    struct DateParts: Comparable {
        var year: Int, month: Int, day: Int
        static func < (a: DateParts, b: DateParts) -> Bool { (a.year, a.month, a.day) < (b.year, b.month, b.day) }
    }

    /// DA "YYYYMMDD" (also the old "YYYY.MM.DD").
    static func parseDate(_ raw: String) -> DateParts? {
        let digits = raw.trimmingCharacters(in: .whitespaces).filter { $0 != "." }
        guard digits.count == 8, digits.allSatisfy(\.isNumber),
              let y = Int(digits.prefix(4)), let m = Int(digits.dropFirst(4).prefix(2)), let dd = Int(digits.suffix(2)),
              (1...12).contains(m), (1...31).contains(dd) else { return nil }
        return DateParts(year: y, month: m, day: dd)
    }
}
