// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "dsa-triage",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "dsa-triage", targets: ["dsa-triage"]),
        .library(name: "MedGemma", targets: ["MedGemma"]),
        .library(name: "LoRA", targets: ["LoRA"]),
        .library(name: "Tensor", targets: ["Tensor"]),
        .library(name: "ModelFiles", targets: ["ModelFiles"]),
        .library(name: "Tokenizer", targets: ["Tokenizer"]),
        .library(name: "DICOM", targets: ["DICOM"]),
        .library(name: "Angiography", targets: ["Angiography"]),
        .library(name: "Triage", targets: ["Triage"]),
        .library(name: "Evaluation", targets: ["Evaluation"]),
        .library(name: "Training", targets: ["Training"]),
        .library(name: "StructuredReport", targets: ["StructuredReport"]),
        .library(name: "WorkerQueue", targets: ["WorkerQueue"]),
        .library(name: "Service", targets: ["Service"]),
        .library(name: "Server", targets: ["Server"]),
        .library(name: "Monitoring", targets: ["Monitoring"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        // SHA-256 / HMAC through BoringSSL (hardware SHA extensions) for model, adapter and data fingerprints.
        .package(url: "https://github.com/apple/swift-crypto", "3.12.3"..<"4.0.0"),
        // SQLite (WAL, migrations, write transactions) for the PACS worker's durable job queue.
        .package(url: "https://github.com/groue/GRDB.swift", exact: "7.10.0"),
        // PostgreSQL for several worker processes sharing one queue (FOR UPDATE SKIP LOCKED).
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
        // The worker's HTTP listener (STOW-RS, API, metrics) and its TLS.
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        // The worker's HTTP client (Orthanc's REST API, DICOMweb destinations).
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-extras", from: "1.35.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        // The review UI: bcrypt password hashes (HummingbirdBcrypt) and server-rendered Mustache pages.
        .package(url: "https://github.com/hummingbird-project/hummingbird-auth", exact: "2.5.0"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache", exact: "2.1.1"),
    ],
    targets: [
        // C shim over oneDNN and OpenBLAS plus a few vectorised element-wise kernels.
        .target(
            name: "CKernels",
            cSettings: [.unsafeFlags(["-O3", "-fno-math-errno"])],
            // OpenBLAS's OpenMP build, so that it and oneDNN share one thread pool instead of two runtimes
            // fighting over the cores.
            linkerSettings: [
                .unsafeFlags(["-L/usr/lib/x86_64-linux-gnu/openblas-openmp",
                              "-Xlinker", "-rpath", "-Xlinker", "/usr/lib/x86_64-linux-gnu/openblas-openmp"]),
                .linkedLibrary("dnnl"), .linkedLibrary("openblas"), .linkedLibrary("gomp"), .linkedLibrary("m"),
            ]
        ),
        // Files produced atomically (temporary name, then rename) and write errors in words.
        .target(name: "FileAccess"),
        // Small shared pieces with no dependencies: the one JSON value type, the seeded SplitMix64
        // generator, Duration in seconds.
        .target(name: "Support"),
        // CSV / JSONL tables (manifests, predictions) for evaluation and training alike.
        .target(name: "Tables", dependencies: ["FileAccess"]),
        // The only door to CKernels: every product and element-wise operation of the models goes through
        // Tensor (MatMul, Attention, Parallel, Ops, Convert), the seam a second backend replaces.
        .target(name: "Tensor", dependencies: ["CKernels", "Support"]),
        .target(name: "ModelFiles", dependencies: ["Tensor", .product(name: "Crypto", package: "swift-crypto")]),
        .target(name: "Tokenizer", dependencies: ["Support"]),
        .target(name: "MedGemma", dependencies: ["Tensor", "ModelFiles", "Tokenizer", "Imaging", "Support"]),
        // C shim over libpng and libjpeg(-turbo); library errors come back as codes, never exit or escape.
        .target(name: "CImageCodecs", linkerSettings: [.linkedLibrary("png"), .linkedLibrary("jpeg")]),
        .target(name: "Imaging", dependencies: ["CImageCodecs", "FileAccess", "Support"]),
        // C shim over CharLS (JPEG-LS), OpenJPEG (JPEG 2000) and libjpeg(-turbo) for DICOM pixel data, and
        // over zlib for deflated datasets; library errors come back as codes and messages, never exit or escape.
        .target(name: "CDICOMCodecs", cSettings: [.unsafeFlags(["-O2", "-I/usr/include/openjpeg-2.5"])],
                linkerSettings: [.linkedLibrary("charls"), .linkedLibrary("openjp2"), .linkedLibrary("jpeg"), .linkedLibrary("z")]),
        .target(name: "DICOM", dependencies: ["CDICOMCodecs", "FileAccess"]),
        // Angiography knowledge: XA/DSA routing, display pipeline, subtraction, frame strategies,
        // series grouping, synthetic angiograms.
        .target(name: "Angiography", dependencies: ["DICOM", "Imaging", "FileAccess", "Support"]),
        .target(name: "LoRA", dependencies: ["MedGemma", "ModelFiles", "Tensor", "FileAccess", "Support"]),
        // The triage pipeline in stages (model images, classification, record assembly; planning is in
        // Angiography): task profile, label scoring, answer parsing, decision policy, batch runs, and the
        // model-mode runs of evaluation with their cache.
        .target(name: "Triage", dependencies: ["MedGemma", "LoRA", "Angiography", "DICOM", "Imaging", "ModelFiles", "Tensor", "FileAccess", "Support"]),
        // Evaluation: metrics with intervals, operating points, comparisons, artifacts and the HTML report.
        .target(name: "Evaluation", dependencies: ["ModelFiles", "FileAccess", "Tables", "Support"]),
        // Training: LoRA / QLoRA / full fine-tuning (data, optimiser, schedule, checkpoints, PEFT artifacts).
        .target(name: "Training", dependencies: ["MedGemma", "LoRA", "Triage", "Evaluation", "Imaging", "ModelFiles", "Tensor", "FileAccess", "Tables"]),
        // DICOM Structured Reports of triage results (Comprehensive SR, TID 1500-style), for the PACS worker.
        .target(name: "StructuredReport", dependencies: ["DICOM", "FileAccess", .product(name: "Crypto", package: "swift-crypto")]),
        // The PACS worker's durable job queue: `JobStore` and its SQLite implementation (GRDB).
        .target(name: "WorkerQueue", dependencies: [.product(name: "GRDB", package: "GRDB.swift"), .product(name: "Crypto", package: "swift-crypto"),
                                                    .product(name: "PostgresNIO", package: "postgres-nio"), .product(name: "Logging", package: "swift-log")]),
        // The PACS worker without HTTP serving: configuration, spool, sources (Orthanc, inbox, STOW-RS parts),
        // series settling, the job runner (routing, population limit, triage, SR), write-back, JSON logs.
        .target(name: "Service", dependencies: [
            "Triage", "StructuredReport", "WorkerQueue", "Monitoring", "DICOM", "Angiography", "FileAccess", "Support",
            .product(name: "AsyncHTTPClient", package: "async-http-client"), .product(name: "Logging", package: "swift-log"),
            .product(name: "Metrics", package: "swift-metrics"), .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "NIOCore", package: "swift-nio"),
        ]),
        // The worker's HTTP listener (Hummingbird): STOW-RS, the API, /metrics, health, bearer tokens, TLS, and
        // the reviewers' web pages (sessions, CSRF, bcrypt accounts, Mustache templates).
        .target(name: "Server", dependencies: [
            "WorkerQueue",
            .product(name: "HummingbirdBcrypt", package: "hummingbird-auth"), .product(name: "Mustache", package: "swift-mustache"),
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "Hummingbird", package: "hummingbird"), .product(name: "HummingbirdTLS", package: "hummingbird"),
            .product(name: "Prometheus", package: "swift-prometheus"), .product(name: "Logging", package: "swift-log"),
            .product(name: "Metrics", package: "swift-metrics"), .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"), .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
        ]),
        // Monitoring over reviewers' verdicts: rolling sensitivity/specificity per site and scanner with
        // verification-bias correction, CUSUM, label-free drift, alert conditions, monitoring.json and report.html.
        .target(name: "Monitoring", dependencies: ["Evaluation", "WorkerQueue", "FileAccess"]),
        .executableTarget(
            name: "dsa-triage",
            dependencies: ["MedGemma", "LoRA", "DICOM", "Angiography", "Triage", "Evaluation", "Training", "Imaging", "ModelFiles", "Tensor", "FileAccess", "Service", "Server", "WorkerQueue", "Monitoring",
                           .product(name: "ArgumentParser", package: "swift-argument-parser"), .product(name: "AsyncHTTPClient", package: "async-http-client"), .product(name: "Logging", package: "swift-log"),
                           .product(name: "Metrics", package: "swift-metrics"), .product(name: "Prometheus", package: "swift-prometheus"),
                           .product(name: "ServiceLifecycle", package: "swift-service-lifecycle")]
        ),
        // Test helpers shared by the test targets (fixture paths, the cached real model, comparisons).
        .target(name: "TestSupport", path: "Tests/TestSupport"),
        .testTarget(name: "TensorTests", dependencies: ["Tensor"]),
        .testTarget(name: "ModelFilesTests", dependencies: ["ModelFiles", "Tensor"]),
        .testTarget(name: "TokenizerTests", dependencies: ["Tokenizer", "ModelFiles", "TestSupport"]),
        .testTarget(name: "MedGemmaTests", dependencies: ["MedGemma", "Tensor", "ModelFiles", "TestSupport"]),
        .testTarget(name: "CLITests", dependencies: ["dsa-triage", "DICOM", "ModelFiles", "Tensor", "WorkerQueue", "TestSupport"]),
        .testTarget(name: "ImagingTests", dependencies: ["Imaging", "Tensor", "ModelFiles", "TestSupport"]),
        .testTarget(name: "DICOMTests", dependencies: ["DICOM", "Tensor", "ModelFiles", "TestSupport"]),
        .testTarget(name: "AngiographyTests", dependencies: ["Angiography", "DICOM", "Imaging", "ModelFiles", "TestSupport"]),
        .testTarget(name: "TriageTests", dependencies: ["Triage", "MedGemma", "LoRA", "Angiography", "DICOM", "Imaging", "ModelFiles", "TestSupport"]),
        .testTarget(name: "EvaluationTests", dependencies: ["Evaluation", "Imaging", "ModelFiles", "TestSupport"]),
        .testTarget(name: "LoRATests", dependencies: ["LoRA", "MedGemma", "ModelFiles", "Tensor", "TestSupport"]),
        // Reads Package.swift, docs/ARCHITECTURE.md and the import lines; no module dependencies.
        .testTarget(name: "ArchitectureTests"),
        .testTarget(name: "StructuredReportTests", dependencies: ["StructuredReport", "DICOM", "Angiography", "TestSupport"]),
        .testTarget(name: "WorkerQueueTests", dependencies: ["WorkerQueue", "TestSupport"]),
        .testTarget(name: "ServiceTests", dependencies: ["Service", "WorkerQueue", "Monitoring", "DICOM", "Angiography", "Triage", "StructuredReport", "TestSupport",
                                                         .product(name: "Logging", package: "swift-log"),
                                                         .product(name: "AsyncHTTPClient", package: "async-http-client")]),
        .testTarget(name: "ServerTests", dependencies: ["Server", "WorkerQueue", "TestSupport",
                                                        .product(name: "HummingbirdTesting", package: "hummingbird"),
                                                        .product(name: "Prometheus", package: "swift-prometheus")]),
        .testTarget(name: "MonitoringTests", dependencies: ["Monitoring", "Evaluation", "WorkerQueue", "Support", "TestSupport"]),
        .testTarget(name: "TrainingTests", dependencies: ["Training", "MedGemma", "LoRA", "Triage", "Evaluation", "Imaging", "ModelFiles", "Tensor", "TestSupport"]),
    ],
    swiftLanguageModes: [.v6]
)
