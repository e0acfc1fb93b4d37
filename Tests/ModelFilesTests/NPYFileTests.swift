import Foundation
import XCTest
@testable import ModelFiles
import Tensor

/// .npy reading (files written by numpy) and writing (byte-identical to numpy's own output).
final class NPYFileTests: TempDirTestCase {
    func testReadsEveryDTypeNumpyWrote() throws {
        let f4 = try Fixtures.npy("npy_f4.npy")
        XCTAssertEqual(f4.dtype, "<f4")
        XCTAssertEqual(f4.shape, [2, 3])
        XCTAssertEqual(f4.data.count, 6)

        let f2 = try Fixtures.npy("npy_f2.npy")
        XCTAssertEqual(f2.dtype, "<f2")
        XCTAssertEqual(f2.floats(), [1.5, -2.0, Convert.f16ToFloat(0x0032), 65504])

        XCTAssertEqual(try Fixtures.npy("npy_f8.npy").data, .float64([0.1, -1e300]))
        let u1 = try Fixtures.npy("npy_u1.npy")
        XCTAssertEqual(u1.dtype, "|u1")
        XCTAssertEqual(u1.shape, [3, 2])
        XCTAssertEqual(u1.data, .uint8([0, 50, 100, 150, 200, 250]))
        XCTAssertEqual(try Fixtures.npy("npy_u2.npy").data, .uint16([0, 1, 65535]))
        let i2 = try Fixtures.npy("npy_i2.npy")
        XCTAssertEqual(i2.shape, [2, 2])
        XCTAssertEqual(i2.data, .int16([-32768, 0, 1, 32767]))
        XCTAssertEqual(try Fixtures.npy("npy_i4.npy").data, .int32([Int32.min, 7, Int32.max]))
        XCTAssertEqual(try Fixtures.npy("npy_i8.npy").data, .int64([Int64.min, 7, Int64.max]))
        let scalar = try Fixtures.npy("npy_scalar.npy")
        XCTAssertEqual(scalar.shape, [])
        XCTAssertEqual(scalar.floats(), [2.5])
        XCTAssertEqual(try scalar.tensor().shape, [])
    }

    func testWrittenFilesAreByteIdenticalToNumpys() throws {
        for name in ["npy_f4.npy", "npy_u1.npy", "npy_u2.npy", "npy_i2.npy", "npy_scalar.npy", "gguf_t.q8_0_3d.npy"] {
            let array = try Fixtures.npy(name)
            let out = tmp.appendingPathComponent(name)
            switch array.data {
            case .float32(let v): try NPYFile.write(out, floats: v, shape: array.shape)
            case .uint8(let v): try NPYFile.write(out, uint8: v, shape: array.shape)
            case .uint16(let v): try NPYFile.write(out, uint16: v, shape: array.shape)
            case .int16(let v): try NPYFile.write(out, int16: v, shape: array.shape)
            default: XCTFail("unexpected dtype in \(name)")
            }
            XCTAssertEqual(try Data(contentsOf: out), try Data(contentsOf: Fixtures.url(name)), name)
        }
    }

    func testWriteTensorConvertsToFloat32() throws {
        let t = try Tensor([1, 2.5, -3, 4], shape: [2, 2]).converted(to: .bf16)
        let url = tmp.appendingPathComponent("t.npy")
        try NPYFile.write(url, tensor: t)
        let back = try NPYFile.read(url)
        XCTAssertEqual(back.dtype, "<f4")
        XCTAssertEqual(back.shape, [2, 2])
        XCTAssertEqual(back.floats(), [1, 2.5, -3, 4])
        XCTAssertEqual(try Data(contentsOf: url).count % 64, 16 % 64, "64-byte aligned header, 16 bytes of data")
    }

    func testCountMustFillShape() {
        let url = tmp.appendingPathComponent("x.npy")
        assertModelFileError(try NPYFile.write(url, floats: [1, 2, 3], shape: [2, 2]), mentions: [url.path]) {
            if case .writeFailed = $0 { return true }
            return false
        }
    }

    /// `bytes` with the first occurrence of ASCII `old` replaced by the same-length `new`.
    func replacing(_ old: String, with new: String, in bytes: [UInt8]) -> [UInt8] {
        let o = Array(old.utf8), n = Array(new.utf8)
        precondition(o.count == n.count)
        var out = bytes
        for i in 0...(bytes.count - o.count) where Array(bytes[i..<(i + o.count)]) == o {
            out.replaceSubrange(i..<(i + o.count), with: n)
            break
        }
        return out
    }

    func testBrokenFiles() throws {
        let good = try Fixtures.bytes("npy_f4.npy")
        var badMagic = good
        badMagic[1] = UInt8(ascii: "X")
        let u1 = try write(badMagic, to: "magic.npy")
        assertModelFileError(try NPYFile.read(u1), mentions: [u1.path, "magic"]) {
            if case .malformed = $0 { return true }
            return false
        }
        let u2 = try write(Array(good.dropLast(4)), to: "short.npy")
        assertModelFileError(try NPYFile.read(u2), mentions: [u2.path, "npy data"]) {
            if case .truncated = $0 { return true }
            return false
        }
        let u3 = try write(replacing("False", with: "True ", in: good), to: "fortran.npy")
        assertModelFileError(try NPYFile.read(u3), mentions: [u3.path, "C order"]) {
            if case .malformed = $0 { return true }
            return false
        }
        let u4 = try write(replacing("<f4", with: "<c8", in: good), to: "complex.npy")
        assertModelFileError(try NPYFile.read(u4), mentions: [u4.path, "<c8"]) {
            if case .unsupportedDType = $0 { return true }
            return false
        }
        var version = good
        version[6] = 9
        let u5 = try write(version, to: "version.npy")
        assertModelFileError(try NPYFile.read(u5), mentions: [u5.path, "version 9"]) {
            if case .unsupportedVersion = $0 { return true }
            return false
        }
    }
}
