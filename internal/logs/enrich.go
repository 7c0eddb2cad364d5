package logs

import (
	"slices"
	"sync"

	"github.com/pysup/pysup/internal/podinfo"
)

// enricher holds what pysup adds to every record besides time and stream:
// the static PYSUP_LOG_FIELDS and the kubernetes object, both encoded once
// (and the kubernetes object again only when the pod metadata changes).
type enricher struct {
	static []staticField
	src    *podinfo.Source

	mu   sync.Mutex // guards the cached encodings below across streams
	pod  *podinfo.Pod
	kube encodedKube
}

type staticField struct {
	key  string
	json []byte // `"key":"value"`
	msgp []byte // key and value, msgpack
}

// encodedKube is the kubernetes object, encoded for each sink; nil outside
// Kubernetes.
type encodedKube struct {
	json []byte // `"kubernetes":{...}`
	msgp []byte // "kubernetes" key and map value
}

func newEnricher(fields map[string]string, src *podinfo.Source) *enricher {
	e := &enricher{src: src}
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		sf := staticField{key: k}
		sf.json = appendString(sf.json, []byte(k))
		sf.json = append(sf.json, ':')
		sf.json = appendString(sf.json, []byte(fields[k]))
		sf.msgp = appendMsgpStr(sf.msgp, []byte(k))
		sf.msgp = appendMsgpStr(sf.msgp, []byte(fields[k]))
		e.static = append(e.static, sf)
	}
	e.kube = e.encodeKube(src.Pod())
	return e
}

// current returns the kubernetes encodings for the pod metadata of now.
// One atomic load when nothing changed.
func (e *enricher) current() encodedKube {
	p := e.src.Pod()
	e.mu.Lock()
	defer e.mu.Unlock()
	if p != e.pod {
		e.pod = p
		e.kube = e.encodeKube(p)
	}
	return e.kube
}

func (e *enricher) encodeKube(p *podinfo.Pod) encodedKube {
	fields := p.Fields()
	if len(fields) == 0 {
		return encodedKube{}
	}
	var k encodedKube
	k.json = append(k.json, `"kubernetes":{`...)
	k.msgp = appendMsgpStr(k.msgp, []byte("kubernetes"))
	k.msgp = appendMsgpMapHeader(k.msgp, len(fields))
	for i, f := range fields {
		if i > 0 {
			k.json = append(k.json, ',')
		}
		k.json = appendStringS(k.json, f.Key)
		k.json = append(k.json, ':')
		k.msgp = appendMsgpStr(k.msgp, []byte(f.Key))
		if f.Map == nil {
			k.json = appendStringS(k.json, f.Value)
			k.msgp = appendMsgpStr(k.msgp, []byte(f.Value))
			continue
		}
		keys := make([]string, 0, len(f.Map))
		for mk := range f.Map {
			keys = append(keys, mk)
		}
		slices.Sort(keys)
		k.json = append(k.json, '{')
		k.msgp = appendMsgpMapHeader(k.msgp, len(keys))
		for j, mk := range keys {
			if j > 0 {
				k.json = append(k.json, ',')
			}
			k.json = appendStringS(k.json, mk)
			k.json = append(k.json, ':')
			k.json = appendStringS(k.json, f.Map[mk])
			k.msgp = appendMsgpStr(k.msgp, []byte(mk))
			k.msgp = appendMsgpStr(k.msgp, []byte(f.Map[mk]))
		}
		k.json = append(k.json, '}')
	}
	k.json = append(k.json, '}')
	return k
}
