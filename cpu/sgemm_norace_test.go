//go:build !race

package cpu

// sgemmRace is set under the race detector, which slows the big SGEMM test
// cases ~10×; they are trimmed then.
const sgemmRace = false
