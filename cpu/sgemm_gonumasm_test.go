//go:build !noasm

package cpu

// sgemmGonumName names gonum's Sgemm in the benchmarks: built without
// gonum's noasm tag it runs gonum's assembly (on amd64) vectors.
const sgemmGonumName = "gonum"
