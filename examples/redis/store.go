package main

import (
	"math/bits"
	"sync"
	"time"
)

// numShards is how many independently locked parts the keyspace has.
const numShards = 256

// entry is one key's value. Its fields change only under the shard's
// write lock; readers copy val out under the read lock.
type entry struct {
	key string // the map key, shared, so vol and removal need no copy
	val []byte // owned copy: request frames alias mill's buffers
	exp int64  // expiry in Unix milliseconds; 0 = none
}

type shard struct {
	mu  sync.RWMutex
	m   map[string]*entry
	vol map[*entry]struct{} // entries with exp != 0: what the sweeper samples
	_   [24]byte            // keep shards on separate cache lines
}

// store is the keyspace, shared by all event loops. A key lives in the
// shard its hash picks; commands on several keys lock their shards in
// ascending order, so they are atomic like Redis's and cannot deadlock.
type store struct {
	shards [numShards]shard
}

func newStore() *store {
	db := &store{}
	for i := range db.shards {
		db.shards[i].m = make(map[string]*entry)
		db.shards[i].vol = make(map[*entry]struct{})
	}
	return db
}

// shardIndex hashes key with 32-bit FNV-1a, folded so that every bit of
// the hash picks the shard (FNV's low byte alone mixes poorly).
func shardIndex(key []byte) int {
	h := uint32(2166136261)
	for _, c := range key {
		h ^= uint32(c)
		h *= 16777619
	}
	h ^= h >> 16
	h ^= h >> 8
	return int(h % numShards)
}

func (db *store) shard(key []byte) *shard { return &db.shards[shardIndex(key)] }

// clock reads the time once per command, and only if an expiry needs it.
type clock int64

func (c *clock) now() int64 {
	if *c == 0 {
		*c = clock(time.Now().UnixMilli())
	}
	return int64(*c)
}

// get returns key's live entry or nil. Read lock held. Readers leave
// an expired entry in place for writers, reap or the sweeper to remove.
func (sh *shard) get(key []byte, clk *clock) *entry {
	e, _ := sh.lookup(key, clk)
	return e
}

// lookup is get that also reports whether key was there but expired.
func (sh *shard) lookup(key []byte, clk *clock) (e *entry, expired bool) {
	e = sh.m[string(key)]
	if e != nil && e.exp != 0 && clk.now() > e.exp {
		return nil, true
	}
	return e, false
}

// reap removes key if it has expired, taking the write lock: a reader
// that found it expired calls it after releasing the read lock, so that
// reads expire keys lazily as in Redis.
func (sh *shard) reap(key []byte, clk *clock) {
	sh.mu.Lock()
	sh.getW(key, clk)
	sh.mu.Unlock()
}

// getW is get that also removes the entry if it has expired. Write lock
// held.
func (sh *shard) getW(key []byte, clk *clock) *entry {
	e := sh.m[string(key)]
	if e != nil && e.exp != 0 && clk.now() > e.exp {
		sh.remove(e)
		return nil
	}
	return e
}

// set stores a copy of val under key (e: its live entry, or nil) and
// sets the expiry. It reuses the old value's storage when it fits, so
// overwriting a key allocates nothing. Write lock held.
func (sh *shard) set(e *entry, key, val []byte, exp int64) *entry {
	if e == nil {
		e = &entry{key: string(key), val: append([]byte(nil), val...)}
		sh.m[e.key] = e
	} else if cap(e.val) >= len(val) && cap(e.val) <= 2*len(val)+64 {
		e.val = append(e.val[:0], val...)
	} else {
		e.val = append([]byte(nil), val...)
	}
	sh.expire(e, exp)
	return e
}

// expire sets e's expiry (0: none). Write lock held.
func (sh *shard) expire(e *entry, exp int64) {
	switch {
	case exp != 0 && e.exp == 0:
		sh.vol[e] = struct{}{}
	case exp == 0 && e.exp != 0:
		delete(sh.vol, e)
	}
	e.exp = exp
}

// remove deletes e. Write lock held.
func (sh *shard) remove(e *entry) {
	delete(sh.m, e.key)
	if e.exp != 0 {
		delete(sh.vol, e)
	}
}

// shardSet is a set of shard indexes, locked in ascending order.
type shardSet [numShards / 64]uint64

// keyShards returns the shards of keys[0], keys[step], keys[2*step]...
func keyShards(keys [][]byte, step int) (s shardSet) {
	for i := 0; i < len(keys); i += step {
		n := shardIndex(keys[i])
		s[n/64] |= 1 << (n % 64)
	}
	return s
}

func allShards() (s shardSet) {
	for i := range s {
		s[i] = ^uint64(0)
	}
	return s
}

func (db *store) lock(s *shardSet, write bool) {
	for w, b := range s {
		for ; b != 0; b &= b - 1 {
			sh := &db.shards[w*64+bits.TrailingZeros64(b)]
			if write {
				sh.mu.Lock()
			} else {
				sh.mu.RLock()
			}
		}
	}
}

func (db *store) unlock(s *shardSet, write bool) {
	for w, b := range s {
		for ; b != 0; b &= b - 1 {
			sh := &db.shards[w*64+bits.TrailingZeros64(b)]
			if write {
				sh.mu.Unlock()
			} else {
				sh.mu.RUnlock()
			}
		}
	}
}

// size counts the keys, including expired ones not yet removed (as
// Redis's DBSIZE does).
func (db *store) size() int64 {
	var n int64
	for i := range db.shards {
		sh := &db.shards[i]
		sh.mu.RLock()
		n += int64(len(sh.m))
		sh.mu.RUnlock()
	}
	return n
}

// flush removes every key, atomically.
func (db *store) flush() {
	all := allShards()
	db.lock(&all, true)
	for i := range db.shards {
		db.shards[i].m = make(map[string]*entry)
		db.shards[i].vol = make(map[*entry]struct{})
	}
	db.unlock(&all, true)
}

// sweep removes expired keys nobody asks for, like Redis's active expire
// cycle: in each shard it samples up to samples keys that have an expiry
// (Go's map iteration starts at a random place), removes the expired
// ones, and samples again, at most rounds times, while more than a
// quarter of a sample had expired. Its work per call is bounded by
// numShards*samples*rounds. It returns how many keys it removed.
func (db *store) sweep(now int64, samples, rounds int) int {
	removed := 0
	for i := range db.shards {
		sh := &db.shards[i]
		sh.mu.Lock()
		for r := 0; r < rounds && len(sh.vol) > 0; r++ {
			seen, gone := 0, 0
			for e := range sh.vol {
				if seen == samples {
					break
				}
				seen++
				if now > e.exp {
					sh.remove(e)
					gone++
				}
			}
			removed += gone
			if gone*4 <= seen {
				break
			}
		}
		sh.mu.Unlock()
	}
	return removed
}
