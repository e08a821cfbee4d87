package http1

// The chunked transfer coding (RFC 9112 §7.1):
//
//	chunked-body = *chunk last-chunk trailer-section CRLF
//	chunk        = chunk-size [ chunk-ext ] CRLF chunk-data CRLF
//	last-chunk   = 1*("0") [ chunk-ext ] CRLF
//
// Chunk data is de-chunked into the codec's buffer as it arrives; chunk
// extensions are checked for stray control characters and ignored;
// trailer fields are checked like header fields and dropped.

// maxChunkLine bounds a chunk-size line, extensions included.
const maxChunkLine = 1024

// chunkSizeLine parses a chunk-size line.
func (c *Codec) chunkSizeLine(in []byte) (bool, *StatusError) {
	end, next, bare := c.line(in)
	switch {
	case next == 0 && len(in)-c.pos > maxChunkLine, next-c.pos > maxChunkLine, bare:
		return false, errChunkSize
	case next == 0:
		return false, nil
	}
	size, ok := chunkSize(in[c.pos:end])
	switch {
	case !ok:
		return false, errChunkSize
	case size > c.lim.MaxBody-c.bodyLen:
		return false, errBodyLarge
	case next-c.bodyStart-c.bodyLen > c.lim.MaxBody:
		// Framing alone (size lines, extensions, CRLFs) may not take more
		// than MaxBody either: all of it is buffered until the request ends.
		return false, errBodyLarge
	}
	c.pos, c.scan = next, next
	if size == 0 {
		c.trailers, c.stg = next, stTrailers
	} else {
		c.chunkLeft, c.stg = size, stChunkData
	}
	return true, nil
}

// chunkSize parses chunk-size [ chunk-ext ], where
//
//	chunk-ext = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] )
//
// Extensions are only checked for characters a field value may not hold.
// The size saturates rather than overflows; the caller compares it with
// the body limit.
func chunkSize(b []byte) (int, bool) {
	n, i := 0, 0
	for ; i < len(b) && hexVal[b[i]] != 0; i++ {
		n = min(n<<4|int(hexVal[b[i]]-1), 1<<40)
	}
	if i == 0 {
		return 0, false
	}
	ext := trimLeftOWS(b[i:])
	if len(ext) == 0 {
		return n, len(ext) == len(b[i:]) // whitespace may only precede ';'
	}
	if ext[0] != ';' {
		return 0, false
	}
	for _, x := range ext {
		if !fieldChar[x] {
			return 0, false
		}
	}
	return n, true
}

func trimLeftOWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	return b
}

// chunkData takes what has arrived of the current chunk's data.
func (c *Codec) chunkData(in []byte) bool {
	take := min(len(in)-c.pos, c.chunkLeft)
	c.body = append(c.body, in[c.pos:c.pos+take]...)
	c.pos += take
	c.bodyLen += take
	c.chunkLeft -= take
	if c.chunkLeft > 0 {
		return false
	}
	c.stg = stChunkEnd
	return true
}

// chunkEnd checks the CRLF after chunk data.
func (c *Codec) chunkEnd(in []byte) (bool, *StatusError) {
	switch {
	case len(in)-c.pos >= 2 && in[c.pos] == '\r' && in[c.pos+1] == '\n':
		c.pos += 2
		c.scan, c.stg = c.pos, stChunkSize
		return true, nil
	case len(in)-c.pos >= 2 || len(in)-c.pos == 1 && in[c.pos] != '\r':
		return false, errChunkEnd
	}
	return false, nil
}

// trailerLine parses a trailer field line, or the blank line that ends
// the request. The trailer section counts against the head limit.
func (c *Codec) trailerLine(in []byte) (bool, *StatusError) {
	end, next, bare := c.line(in)
	switch {
	case next == 0 && len(in)-c.trailers > c.lim.MaxHead, next-c.trailers > c.lim.MaxHead:
		return false, errTrailersLarge
	case next == 0:
		return false, nil
	case bare:
		return false, errBareLF
	case end == c.pos:
		c.pos, c.stg = next, stDone
		return true, nil
	}
	if _, _, _, err := checkField(in[c.pos:end]); err != nil {
		return false, err
	}
	c.pos = next
	return true, nil
}
