// swift-tools-version: 6.1
// pathagent: host-side storage data-path agent for Pure Storage FlashArray volumes.
import PackageDescription

let package = Package(
    name: "pathagent",
    products: [
        .executable(name: "pathctl", targets: ["pathctl"]),
        .library(name: "PathCore", targets: ["PathCore"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
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
                "HostStorage", "PathCore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]),
        .executableTarget(name: "pathctl", dependencies: ["PathCtlKit"]),

        // ---- tests ----
        .testTarget(name: "PathCoreTests", dependencies: ["PathCore", "HostStorage"]),
        .testTarget(name: "PathAPITests", dependencies: ["PathAPI", "PathCore"]),
        .testTarget(name: "HostStorageTests", dependencies: ["HostStorage", "PathCore"]),
        .testTarget(name: "TgtTierTests", dependencies: ["HostStorage", "PathCore"]),
        // systemd unit, udev rules, install script, metrics text through external checkers
        .testTarget(name: "OpsTests", dependencies: ["PathCore", "HostStorage"]),
    ]
)
