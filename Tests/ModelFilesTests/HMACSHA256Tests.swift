import ModelFiles
import XCTest

/// HMAC-SHA256 against RFC 4231's test vectors (and Python's `hmac` for a key of exactly one block).
final class HMACSHA256Tests: XCTestCase {
    func testRFC4231Vectors() {
        XCTAssertEqual(HMACSHA256.hex(key: [UInt8](repeating: 0x0b, count: 20), message: Array("Hi There".utf8)),
                       "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7")
        XCTAssertEqual(HMACSHA256.hex(key: Array("Jefe".utf8), message: Array("what do ya want for nothing?".utf8)),
                       "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
        let longKey = [UInt8](repeating: 0xaa, count: 131)
        XCTAssertEqual(HMACSHA256.hex(key: longKey, message: Array("Test Using Larger Than Block-Size Key - Hash Key First".utf8)),
                       "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54")
        let longData = "This is a test using a larger than block-size key and a larger than block-size data. The key needs to be hashed before being used by the HMAC algorithm."
        XCTAssertEqual(HMACSHA256.hex(key: longKey, message: Array(longData.utf8)),
                       "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2")
        // python3 -c "import hmac,hashlib; print(hmac.new(b'\xaa'*64, b'exactly one block', hashlib.sha256).hexdigest())"
        XCTAssertEqual(HMACSHA256.hex(key: [UInt8](repeating: 0xaa, count: 64), message: Array("exactly one block".utf8)),
                       "5b87dae58ee4b7b43b98ee08d3d044b8762c3ea166aff96a2b2298de9f34a8ea")
    }
}
