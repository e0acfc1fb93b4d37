/// The version of dsa-triage, written into evaluation artifacts and printed by `dsa-triage --version`.
/// The minor number follows the project's milestones (0.7: DICOM ingestion, triage and evaluation).
public enum SoftwareVersion {
    public static let current = "0.7.0"
}
