import Angiography
import DICOM
import XCTest

final class RoutingTests: XCTestCase {
    func testFixtureRoutes() throws {
        for name in ["xa_lin_avgsub", "xa_subtracted", "exa_enhanced", "xa_mono1", "xa_implicit", "xa_modality_ct",
                     "rf_run", "ct", "mr", "us_rgb", "cr", "dx", "sr"] {
            let exp = try AngioFixtures.json(name)
            let d = ScopeRouter().decide(try AngioFixtures.file(name))
            XCTAssertEqual(d.route.rawValue, exp["route"] as? String, name)
            XCTAssertEqual(d.reason, exp["reason"] as? String, name)
            XCTAssertEqual(d.sopClassUID, exp["sop_class_uid"] as? String, name)
        }
    }

    func testOutOfScopeNamesTheClass() throws {
        let names = ["ct": "CT Image Storage", "mr": "MR Image Storage", "us_rgb": "Ultrasound Image Storage",
                     "cr": "Computed Radiography Image Storage", "dx": "Digital X-Ray Image Storage - For Presentation",
                     "sr": "Enhanced SR Storage"]
        for (fixture, name) in names {
            let d = ScopeRouter().decide(try AngioFixtures.file(fixture))
            XCTAssertEqual(d.reason, "out-of-scope modality", fixture)
            XCTAssertEqual(d.sopClassName, name, fixture)
            XCTAssertTrue(d.detail.contains(name), d.detail)
        }
    }

    func testRadiofluoroscopyOnlyWhenConfigured() throws {
        let rf = try AngioFixtures.file("rf_run")
        XCTAssertEqual(ScopeRouter().decide(rf).route, .skip)
        XCTAssertEqual(ScopeRouter().decide(rf).reason, "out-of-scope modality")
        let on = ScopeRouter(policy: RoutingPolicy(includeRadiofluoroscopic: true)).decide(rf)
        XCTAssertEqual(on.route, .triage)
        XCTAssertEqual(on.reason, "in-scope modality")
        let enhancedRF = ScopeRouter(policy: RoutingPolicy(includeRadiofluoroscopic: true))
            .decide(sopClassUID: AngiographySOPClass.enhancedXRFImageStorage, modality: "RF")
        XCTAssertEqual(enhancedRF.route, .triage)
    }

    func testXAWithOtherModalityIsRoutedBySOPClass() throws {
        let d = ScopeRouter().decide(try AngioFixtures.file("xa_modality_ct"))
        XCTAssertEqual(d.route, .triage)
        XCTAssertTrue(d.detail.contains("Modality CT disagrees"), d.detail)
    }

    func testUnknownAndMissingSOPClass() {
        let unknown = ScopeRouter().decide(sopClassUID: "1.2.3.4", modality: "OT")
        XCTAssertEqual(unknown.route, .skip)
        XCTAssertEqual(unknown.reason, "out-of-scope modality")
        XCTAssertNil(unknown.sopClassName)
        XCTAssertTrue(unknown.detail.contains("unknown SOP class"), unknown.detail)
        let missing = ScopeRouter().decide(sopClassUID: nil, modality: "XA")
        XCTAssertEqual(missing.route, .skip)
        XCTAssertEqual(missing.reason, "missing SOP Class UID")
        // Secondary capture of an angiogram is still out of scope: its pixels are a screenshot.
        XCTAssertEqual(ScopeRouter().decide(sopClassUID: "1.2.840.10008.5.1.4.1.1.7", modality: "XA").route, .skip)
    }
}
