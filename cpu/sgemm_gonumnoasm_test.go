//go:build noasm

package cpu

// sgemmGonumName names gonum's Sgemm in the benchmarks: built with gonum's
// noasm tag it runs gonum's pure-Go vectors.
const sgemmGonumName = "gonum-noasm"
