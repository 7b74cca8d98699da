package client

// PackageVersion is the version of the rushws release this copy of
// rushws.js belongs to, written without the "v": the Go module tagged
// vX.Y.Z embeds and serves the same rushws.js that npm carries as
// @rushws/client X.Y.Z. A frontend that installs the package and a server
// built with the module therefore speak the same protocol when the two
// versions are equal, and a page or a health check can compare them.
//
// client/package.json names the same version, so npm and the Go module
// never disagree: a test in this package fails when the two differ, and
// when the commit under test carries a release tag that names another
// version. A release sets both in one commit and tags that commit.
// [Version] is a different thing: a hash of the file, for cache busting.
const PackageVersion = "0.1.0"
