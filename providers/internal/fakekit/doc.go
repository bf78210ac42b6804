// Package fakekit holds what the vendor fakes of the remote providers
// (vercelfake, daytonafake, cloudflarefake) share: the record of the
// exchanges they answered ([Exchange], [Recorder]) and the machinery of
// injected faults ([Faults], [Pause], [HangUp]). What a fake answers, and
// how a fault shapes an answer, stays in each fake: it follows its
// vendor.
package fakekit
