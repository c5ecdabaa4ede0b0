package ui

// The vendored front-end packages under static/vendor are built from
// web/package-lock.json: npm ci installs the exact locked versions (and
// checks their integrity hashes), build.mjs bundles them. Commit the
// result; `go build` never needs npm. TestVendorRebuild checks that the
// committed files are what the lock file produces.
//go:generate sh -c "cd ../../../web && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error && node build.mjs"
