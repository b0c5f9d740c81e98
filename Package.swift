// swift-tools-version: 6.1
// pathagent: host-side storage data-path agent for Pure Storage FlashArray volumes.
import PackageDescription

let package = Package(
    name: "pathagent",
    products: [
        .executable(name: "pathctl", targets: ["pathctl"]),
        .executable(name: "pathagent", targets: ["pathagent"]),
        .library(name: "PathCore", targets: ["PathCore"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        // FlashArray control plane (REST client + array simulator)
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        // seeded, shrinking randomized campaigns against the simulated host (tests only)
        .package(url: "https://github.com/x-sheep/swift-property-based", from: "2.0.1"),
    ],
    targets: [
        // ---- C system libraries (only HostStorage imports these) ----
        .systemLibrary(name: "CUdev", pkgConfig: "libudev", providers: [.apt(["libudev-dev"])]),
        .systemLibrary(name: "CDevMapper", pkgConfig: "devmapper", providers: [.apt(["libdevmapper-dev"])]),
        .systemLibrary(name: "CSGUtils", providers: [.apt(["libsgutils2-dev"])]),
        .systemLibrary(name: "CISCSI", pkgConfig: "libiscsi", providers: [.apt(["libiscsi-dev"])]),
        .systemLibrary(name: "CSQLite", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"])]),
        .target(name: "CPathShims", dependencies: ["CUdev", "CDevMapper", "CSGUtils", "CISCSI"]),

        // ---- OS boundary: the only module that imports C modules or Glibc ----
        .target(
            name: "HostStorage",
            dependencies: [
                "CUdev", "CDevMapper", "CSGUtils", "CISCSI", "CSQLite", "CPathShims", "PathCore",
                .product(name: "Logging", package: "swift-log"),
            ]),

        // ---- pure logic: models, parsers, policies, plans (no I/O) ----
        .target(name: "PathCore"),

        // ---- wire types of the local API (daemon, CLI, FlashArray module) ----
        .target(name: "PathAPI", dependencies: ["PathCore"]),

        // ---- executables ----
        .target(
            name: "PathCtlKit",
            dependencies: [
                "HostStorage", "PathCore", "PathAPI", "FlashArray",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]),
        .executableTarget(name: "pathctl", dependencies: ["PathCtlKit"]),
        // lab test support: one engine operation in-process (see its header)
        .executableTarget(
            name: "engine-probe",
            dependencies: ["PathAgentCore", "PathAPI", "PathCore", "HostStorage", .product(name: "Logging", package: "swift-log")]),

        // ---- control plane: FlashArray REST 2.x client, cinder.conf, connection properties ----
        .target(
            name: "FlashArray",
            dependencies: [
                "PathCore",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ]),
        .executableTarget(
            name: "fa-sim",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ]),
        .testTarget(name: "FlashArrayTests", dependencies: ["FlashArray", "PathCore", "HostStorage", "fa-sim"], exclude: ["Fixtures", "pyclient"]),

        // ---- services: attach/detach engine, path monitor, local API server, locks, journal, config ----
        .target(
            name: "PathAgentCore",
            dependencies: [
                "PathCore", "PathAPI", "HostStorage", "FlashArray",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ]),
        .executableTarget(
            name: "pathagent",
            dependencies: [
                "PathAgentCore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),
        .testTarget(
            name: "PathAgentCoreTests",
            dependencies: [
                "PathAgentCore", "PathCtlKit", "PathAPI", "PathCore", "HostStorage", "FlashArray",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]),

        // ---- simulated host: the kernel and open-iscsi behind the HostStorage seams (test support) ----
        // optimized even in debug builds: the campaign renders the simulated sysfs tree
        // after every kernel change, thousands of times a run
        .target(name: "SimulatedHost", dependencies: ["HostStorage", "PathCore"], path: "Tests/SimulatedHost",
                swiftSettings: [.unsafeFlags(["-O"])]),
        .testTarget(
            name: "EngineSimTests",
            dependencies: [
                "SimulatedHost", "PathAgentCore", "PathAPI", "PathCore", "HostStorage",
                .product(name: "PropertyBased", package: "swift-property-based"),
                .product(name: "Logging", package: "swift-log"),
            ]),

        // ---- tests ----
        .testTarget(name: "PathCoreTests", dependencies: ["PathCore", "HostStorage"]),
        .testTarget(name: "PathAPITests", dependencies: ["PathAPI", "PathCore"]),
        .testTarget(name: "HostStorageTests", dependencies: ["HostStorage", "PathCore"]),
        .testTarget(name: "TgtTierTests", dependencies: ["HostStorage", "PathCore"]),
        // systemd unit, udev rules, install script, metrics text through external checkers
        .testTarget(name: "OpsTests", dependencies: ["PathCore", "HostStorage"]),
    ]
)
