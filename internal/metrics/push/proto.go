package push

import (
	"math"

	"google.golang.org/protobuf/encoding/protowire"
)

// encodeWriteRequest encodes a remote-write 1.0 prometheus.WriteRequest
// by hand: the message is four tiny types, and hand-encoding spares a
// dependency on github.com/prometheus/prometheus or generated code.
//
//	message WriteRequest { repeated TimeSeries timeseries = 1; }
//	message TimeSeries   { repeated Label labels = 1; repeated Sample samples = 2; }
//	message Label        { string name = 1; string value = 2; }
//	message Sample       { double value = 1; int64 timestamp = 2; }
func encodeWriteRequest(dst []byte, ss []series) []byte {
	for _, s := range ss {
		dst = protowire.AppendTag(dst, 1, protowire.BytesType)
		dst = protowire.AppendVarint(dst, uint64(timeSeriesSize(s)))
		for _, l := range s.labels {
			dst = protowire.AppendTag(dst, 1, protowire.BytesType)
			dst = protowire.AppendVarint(dst, uint64(labelSize(l)))
			dst = protowire.AppendTag(dst, 1, protowire.BytesType)
			dst = protowire.AppendString(dst, l.name)
			dst = protowire.AppendTag(dst, 2, protowire.BytesType)
			dst = protowire.AppendString(dst, l.value)
		}
		dst = protowire.AppendTag(dst, 2, protowire.BytesType)
		dst = protowire.AppendVarint(dst, uint64(sampleSize(s)))
		dst = protowire.AppendTag(dst, 1, protowire.Fixed64Type)
		dst = protowire.AppendFixed64(dst, math.Float64bits(s.value))
		dst = protowire.AppendTag(dst, 2, protowire.VarintType)
		dst = protowire.AppendVarint(dst, uint64(s.tsMs))
	}
	return dst
}

func labelSize(l labelPair) int {
	return 1 + protowire.SizeBytes(len(l.name)) + 1 + protowire.SizeBytes(len(l.value))
}

func sampleSize(s series) int {
	return 1 + 8 + 1 + protowire.SizeVarint(uint64(s.tsMs))
}

func timeSeriesSize(s series) int {
	n := 0
	for _, l := range s.labels {
		n += 1 + protowire.SizeBytes(labelSize(l))
	}
	return n + 1 + protowire.SizeBytes(sampleSize(s))
}
