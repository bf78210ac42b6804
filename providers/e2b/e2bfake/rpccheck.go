package e2bfake

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"fmt"
	"io"
	"net/http"
	"strings"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/computemw/kit/providers/e2b/internal/envd/filesystem"
	"github.com/computemw/kit/providers/e2b/internal/envd/filesystem/filesystemconnect"
	"github.com/computemw/kit/providers/e2b/internal/envd/process"
	"github.com/computemw/kit/providers/e2b/internal/envd/process/processconnect"
)

// rpcRequests gives, for each of envd's RPCs, a new message of its
// request type (generated from the vendor's process.proto and
// filesystem.proto).
var rpcRequests = map[string]func() proto.Message{
	processconnect.ProcessListProcedure:                   func() proto.Message { return &process.ListRequest{} },
	processconnect.ProcessConnectProcedure:                func() proto.Message { return &process.ConnectRequest{} },
	processconnect.ProcessStartProcedure:                  func() proto.Message { return &process.StartRequest{} },
	processconnect.ProcessUpdateProcedure:                 func() proto.Message { return &process.UpdateRequest{} },
	processconnect.ProcessStreamInputProcedure:            func() proto.Message { return &process.StreamInputRequest{} },
	processconnect.ProcessSendInputProcedure:              func() proto.Message { return &process.SendInputRequest{} },
	processconnect.ProcessSendSignalProcedure:             func() proto.Message { return &process.SendSignalRequest{} },
	processconnect.ProcessCloseStdinProcedure:             func() proto.Message { return &process.CloseStdinRequest{} },
	filesystemconnect.FilesystemStatProcedure:             func() proto.Message { return &filesystem.StatRequest{} },
	filesystemconnect.FilesystemMakeDirProcedure:          func() proto.Message { return &filesystem.MakeDirRequest{} },
	filesystemconnect.FilesystemMoveProcedure:             func() proto.Message { return &filesystem.MoveRequest{} },
	filesystemconnect.FilesystemListDirProcedure:          func() proto.Message { return &filesystem.ListDirRequest{} },
	filesystemconnect.FilesystemRemoveProcedure:           func() proto.Message { return &filesystem.RemoveRequest{} },
	filesystemconnect.FilesystemWatchDirProcedure:         func() proto.Message { return &filesystem.WatchDirRequest{} },
	filesystemconnect.FilesystemCreateWatcherProcedure:    func() proto.Message { return &filesystem.CreateWatcherRequest{} },
	filesystemconnect.FilesystemGetWatcherEventsProcedure: func() proto.Message { return &filesystem.GetWatcherEventsRequest{} },
	filesystemconnect.FilesystemRemoveWatcherProcedure:    func() proto.Message { return &filesystem.RemoveWatcherRequest{} },
}

// checkRPC decodes an RPC's request body, already read, with the
// vendor's message type, refusing unknown fields: a unary body is one
// message, a streaming one a sequence of Connect envelopes. It returns
// the RPC's name.
func checkRPC(r *http.Request, body []byte) (string, error) {
	op := strings.TrimPrefix(r.URL.Path, "/")
	newMsg := rpcRequests[r.URL.Path]
	if newMsg == nil {
		return "", fmt.Errorf("RPC %s is not in the vendor's protos", r.URL.Path)
	}
	if r.Method != http.MethodPost {
		return op, fmt.Errorf("%s: method %s, want POST", op, r.Method)
	}
	ct := r.Header.Get("Content-Type")
	codec, streaming := strings.CutPrefix(ct, "application/connect+")
	if !streaming {
		codec = strings.TrimPrefix(ct, "application/")
		if enc := r.Header.Get("Content-Encoding"); enc != "" && enc != "identity" {
			var err error
			if body, err = decompress(enc, body); err != nil {
				return op, fmt.Errorf("%s: %w", op, err)
			}
		}
		if err := decodeMessage(codec, body, newMsg()); err != nil {
			return op, fmt.Errorf("%s: %w", op, err)
		}
		return op, nil
	}
	n := 0
	for len(body) > 0 {
		if len(body) < 5 {
			return op, fmt.Errorf("%s: a truncated envelope", op)
		}
		flags, size := body[0], binary.BigEndian.Uint32(body[1:5])
		if uint64(len(body)-5) < uint64(size) {
			return op, fmt.Errorf("%s: an envelope of %d bytes with %d left", op, size, len(body)-5)
		}
		data := body[5 : 5+size]
		body = body[5+size:]
		if flags&^1 != 0 {
			return op, fmt.Errorf("%s: envelope flags %#x in a request", op, flags)
		}
		if flags&1 != 0 {
			var err error
			if data, err = decompress(r.Header.Get("Connect-Content-Encoding"), data); err != nil {
				return op, fmt.Errorf("%s: %w", op, err)
			}
		}
		if err := decodeMessage(codec, data, newMsg()); err != nil {
			return op, fmt.Errorf("%s: message %d: %w", op, n+1, err)
		}
		n++
	}
	if n == 0 && r.URL.Path != processconnect.ProcessStreamInputProcedure {
		return op, fmt.Errorf("%s: no request message", op)
	}
	return op, nil
}

func decompress(enc string, data []byte) ([]byte, error) {
	if enc != "gzip" {
		return nil, fmt.Errorf("compressed with %q, which envd does not speak", enc)
	}
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	return io.ReadAll(io.LimitReader(zr, 64<<20))
}

// decodeMessage decodes one message in the codec, refusing fields the
// message type does not have.
func decodeMessage(codec string, data []byte, m proto.Message) error {
	switch codec {
	case "json":
		return protojson.UnmarshalOptions{DiscardUnknown: false}.Unmarshal(data, m)
	case "proto":
		if err := (proto.UnmarshalOptions{DiscardUnknown: false}).Unmarshal(data, m); err != nil {
			return err
		}
		// The binary codec keeps unknown fields instead of failing.
		return noUnknown(m.ProtoReflect())
	}
	return fmt.Errorf("codec %q is neither json nor proto", codec)
}

// noUnknown fails when a message, or one in it, carries fields its type
// does not have.
func noUnknown(m protoreflect.Message) error {
	if len(m.GetUnknown()) > 0 {
		return fmt.Errorf("%s carries fields it does not have", m.Descriptor().FullName())
	}
	var err error
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		if fd.Kind() != protoreflect.MessageKind && fd.Kind() != protoreflect.GroupKind {
			return true
		}
		switch {
		case fd.IsList():
			for i := 0; i < v.List().Len() && err == nil; i++ {
				err = noUnknown(v.List().Get(i).Message())
			}
		case fd.IsMap():
			if fd.MapValue().Kind() == protoreflect.MessageKind {
				v.Map().Range(func(_ protoreflect.MapKey, mv protoreflect.Value) bool {
					err = noUnknown(mv.Message())
					return err == nil
				})
			}
		default:
			err = noUnknown(v.Message())
		}
		return err == nil
	})
	return err
}
