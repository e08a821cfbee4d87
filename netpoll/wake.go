package netpoll

import "sync/atomic"

// wakeState coalesces wake-ups. The loop stores armed before it blocks and
// awake after every wait; a producer writes to the wake descriptor only if
// it moves the state from armed to woken, so at most one write happens per
// sleep and none while the loop is running.
//
//	awake --arm (loop)--> armed --claim (producer, writes)--> woken
//	  ^--------------------- awake (loop, after each wait) ------'
type wakeState struct{ v atomic.Uint32 }

const (
	stateAwake uint32 = iota
	stateArmed
	stateWoken
)

func (w *wakeState) arm()        { w.v.Store(stateArmed) }
func (w *wakeState) awake()      { w.v.Store(stateAwake) }
func (w *wakeState) claim() bool { return w.v.CompareAndSwap(stateArmed, stateWoken) }
