package core_test

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
)

// Sections 12 and 13 of Autobahn send slices of five files: a JSON
// document, a 512x512 grey bitmap, a German play from Project Gutenberg, an
// HTML page and a PDF. Those files are not copied here; compressionData
// generates stand-ins of the same kind, size and character (text with
// multi-byte characters, a smooth image with noise, prose, markup, a PDF
// mixing text with incompressible streams), deterministic from a fixed
// seed.

// compressionFile is one stand-in.
type compressionFile struct {
	name   string
	binary bool
	data   []byte
}

// compressionFiles returns the stand-ins in Autobahn's order: 12.1 JSON,
// 12.2 bitmap, 12.3 play, 12.4 HTML, 12.5 PDF.
var compressionFiles = sync.OnceValue(func() []compressionFile {
	return []compressionFile{
		{"json", false, genJSON(194056)},
		{"bitmap", true, genBitmap()},
		{"play", true, genProse(222218)},
		{"html", false, genHTML(263647)},
		{"pdf", true, genPDF(1042328)},
	}
})

var (
	words = []string{"Nacht", "Geist", "Welt", "Zeit", "Herz", "Mephistopheles", "Gretchen", "schön", "Glück", "über",
		"Brüder", "Höhe", "grün", "weiß", "müssen", "hören", "Straße", "träumt", "Seele", "Himmel", "und", "der", "die",
		"das", "ich", "nicht", "mit", "ein", "so", "wie"}
	places = []string{"Zürich", "São Paulo", "Kraków", "東京", "Reykjavík", "Malmö", "Cádiz", "Москва", "Ελλάδα", "Paris"}
)

func seeded(n uint64) *rand.Rand { return rand.New(rand.NewPCG(n, n*7919)) }

// genJSON is an array of records, text with multi-byte characters.
func genJSON(size int) []byte {
	r := seeded(1)
	var b bytes.Buffer
	b.WriteString("[\n")
	for i := 0; b.Len() < size; i++ {
		fmt.Fprintf(&b, `  {"id": %d, "name": "%s %s", "city": "%s", "score": %.4f, "active": %t, "tags": ["%s", "%s"], "note": "%s %s %s"},`+"\n",
			i, words[r.IntN(len(words))], words[r.IntN(len(words))], places[r.IntN(len(places))], r.Float64()*1000, r.IntN(2) == 0,
			words[r.IntN(len(words))], words[r.IntN(len(words))], words[r.IntN(len(words))], places[r.IntN(len(places))], words[r.IntN(len(words))])
	}
	return cutValid(b.Bytes(), size)
}

// genHTML is a page of table rows.
func genHTML(size int) []byte {
	r := seeded(2)
	var b bytes.Buffer
	b.WriteString("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Daten</title></head><body>\n<table class=\"data\">\n")
	for i := 0; b.Len() < size; i++ {
		fmt.Fprintf(&b, "<tr class=\"row-%d\"><td><a href=\"/item/%d\">%s</a></td><td>%s</td><td style=\"text-align:right\">%d</td></tr>\n",
			i%2, r.IntN(100000), words[r.IntN(len(words))], places[r.IntN(len(places))], r.IntN(1<<20))
	}
	return cutValid(b.Bytes(), size)
}

// genProse is verse made of German words, sent as binary as Autobahn does.
func genProse(size int) []byte {
	r := seeded(3)
	var b bytes.Buffer
	for b.Len() < size {
		n := 4 + r.IntN(6)
		for i := range n {
			if i > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(words[r.IntN(len(words))])
		}
		b.WriteString(".\n")
	}
	return b.Bytes()[:size]
}

// genBitmap is an 8-bit grey BMP of 512x512 pixels: a smooth picture with
// a little noise, as a photograph compresses.
func genBitmap() []byte {
	const w, h = 512, 512
	r := seeded(4)
	var b bytes.Buffer
	b.WriteString("BM")
	_ = binary.Write(&b, binary.LittleEndian, []uint32{54 + 1024 + w*h, 0, 54 + 1024, 40, w, h})
	_ = binary.Write(&b, binary.LittleEndian, []uint16{1, 8})
	_ = binary.Write(&b, binary.LittleEndian, []uint32{0, w * h, 2835, 2835, 256, 0})
	for i := range 256 {
		b.Write([]byte{byte(i), byte(i), byte(i), 0})
	}
	for y := range h {
		for x := range w {
			v := (x*x+y*y)/2048 + (x*y)/1024 + r.IntN(12)
			b.WriteByte(byte(v))
		}
	}
	return b.Bytes()
}

// genPDF alternates text objects and compressed-looking (random) streams.
func genPDF(size int) []byte {
	r := seeded(5)
	var b bytes.Buffer
	b.WriteString("%PDF-1.4\n")
	for i := 1; b.Len() < size; i++ {
		if i%3 == 0 {
			n := 2048 + r.IntN(8192)
			fmt.Fprintf(&b, "%d 0 obj\n<< /Length %d /Filter /FlateDecode >>\nstream\n", i, n)
			for range n {
				b.WriteByte(byte(r.Uint32()))
			}
			b.WriteString("\nendstream\nendobj\n")
			continue
		}
		fmt.Fprintf(&b, "%d 0 obj\n<< /Type /Page /Parent 2 0 R /Contents %d 0 R >>\nBT /F1 11 Tf 72 %d Td (%s %s %s) Tj ET\nendobj\n",
			i, i+1, 700-i%600, words[r.IntN(len(words))], words[r.IntN(len(words))], words[r.IntN(len(words))])
	}
	return b.Bytes()[:size]
}

// cutValid cuts text to at most size bytes on a character boundary.
func cutValid(b []byte, size int) []byte {
	b = b[:min(size, len(b))]
	for len(b) > 0 && b[len(b)-1]&0xc0 == 0x80 {
		b = b[:len(b)-1]
	}
	if len(b) > 0 && b[len(b)-1] >= 0xc0 {
		b = b[:len(b)-1]
	}
	return b
}

// slicer hands out consecutive slices of a file, wrapping around at its
// end, as Autobahn's cases do: counted in characters for text, in bytes
// for binary files.
type slicer struct {
	f     compressionFile
	runes []rune
	at    int
}

func newSlicer(f compressionFile) *slicer {
	s := &slicer{f: f}
	if !f.binary {
		s.runes = []rune(string(f.data))
	}
	return s
}

func (s *slicer) next(n int) []byte {
	if !s.f.binary {
		var b strings.Builder
		for range n {
			b.WriteRune(s.runes[s.at])
			s.at = (s.at + 1) % len(s.runes)
		}
		return []byte(b.String())
	}
	out := make([]byte, n)
	for i := range out {
		out[i] = s.f.data[s.at]
		s.at = (s.at + 1) % len(s.f.data)
	}
	return out
}
