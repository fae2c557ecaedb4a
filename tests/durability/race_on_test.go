//go:build race

package durability

// raceEnabled builds the broker binary with -race too, so a data race in the
// broker shows up in its stderr (which the tests scan).
const raceEnabled = true
