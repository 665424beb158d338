using System.Text;
using Platform.Inference.Gguf;

namespace Platform.Inference.Tokenization;

/// <summary>
/// The fields of a SentencePiece ModelProto (google/sentencepiece src/sentencepiece_model.proto) that an LLM
/// tokenizer uses: the pieces with scores and types, TrainerSpec's model type, byte fallback and special ids, and
/// NormalizerSpec's whitespace handling. Read and written by hand: Microsoft.ML.Tokenizers keeps its protobuf
/// classes internal, and these few fields do not justify a protobuf dependency. Absent fields take the proto's
/// declared defaults (model_type UNIGRAM, unk 0, bos 1, eos 2, pad -1, add_dummy_prefix / remove_extra_whitespaces /
/// escape_whitespaces true).
/// </summary>
public sealed record SentencePieceModelProto(
    IReadOnlyList<string> Pieces,
    IReadOnlyList<float> Scores,
    IReadOnlyList<GgufTokenType> Types,
    int ModelType = SentencePieceModelProto.Bpe,
    bool ByteFallback = false,
    int UnknownId = 0,
    int BosId = 1,
    int EosId = 2,
    int PadId = -1,
    bool AddDummyPrefix = true,
    bool RemoveExtraWhitespaces = true,
    bool EscapeWhitespaces = true,
    bool TreatWhitespaceAsSuffix = false,
    int PrecompiledCharsmapBytes = 0)
{
    /// <summary>TrainerSpec.ModelType values.</summary>
    public const int Unigram = 1, Bpe = 2, Word = 3, Char = 4;

    public static SentencePieceModelProto Read(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"No tokenizer.model at {path}.", path);
        return Parse(File.ReadAllBytes(path), path);
    }

    /// <summary>Parses the serialized ModelProto; <see cref="InvalidDataException"/> (naming <paramref name="source"/>) when it is not one.</summary>
    public static SentencePieceModelProto Parse(ReadOnlySpan<byte> data, string source)
    {
        var pieces = new List<string>();
        var scores = new List<float>();
        var types = new List<GgufTokenType>();
        var proto = new SentencePieceModelProto(pieces, scores, types, ModelType: Unigram);
        try
        {
            var r = new Reader(data.ToArray());
            while (r.More)
            {
                var (field, wire) = r.Tag();
                switch (field)
                {
                    case 1 when wire == 2:
                        var (piece, score, type) = ReadPiece(r.Sub());
                        pieces.Add(piece); scores.Add(score); types.Add(type);
                        break;
                    case 2 when wire == 2:
                        proto = ReadTrainer(r.Sub(), proto);
                        break;
                    case 3 when wire == 2:
                        proto = ReadNormalizer(r.Sub(), proto);
                        break;
                    default:
                        r.Skip(wire);
                        break;
                }
            }
        }
        catch (Exception e) when (e is IndexOutOfRangeException or ArgumentOutOfRangeException or OverflowException or DecoderFallbackException or InvalidDataException)
        {
            throw new InvalidDataException($"{source}: not a SentencePiece model ({e.Message}).", e);
        }
        if (pieces.Count == 0) throw new InvalidDataException($"{source}: the SentencePiece model has no pieces.");
        return proto;
    }

    private static (string, float, GgufTokenType) ReadPiece(Reader r)
    {
        string piece = "";
        float score = 0;
        var type = GgufTokenType.Normal;
        while (r.More)
        {
            var (field, wire) = r.Tag();
            if (field == 1 && wire == 2) piece = r.String();
            else if (field == 2 && wire == 5) score = r.Float();
            else if (field == 3 && wire == 0) type = (GgufTokenType)(int)r.Varint();
            else r.Skip(wire);
        }
        if (!Enum.IsDefined(type)) throw new InvalidDataException($"piece '{piece}' has type {(int)type}");
        return (piece, score, type);
    }

    private static SentencePieceModelProto ReadTrainer(Reader r, SentencePieceModelProto p)
    {
        while (r.More)
        {
            var (field, wire) = r.Tag();
            if (wire != 0) { r.Skip(wire); continue; }
            long v = (long)r.Varint();
            p = field switch
            {
                3 => p with { ModelType = (int)v },
                24 => p with { TreatWhitespaceAsSuffix = v != 0 },
                35 => p with { ByteFallback = v != 0 },
                40 => p with { UnknownId = (int)v },
                41 => p with { BosId = (int)v },
                42 => p with { EosId = (int)v },
                43 => p with { PadId = (int)v },
                _ => p,
            };
        }
        return p;
    }

    private static SentencePieceModelProto ReadNormalizer(Reader r, SentencePieceModelProto p)
    {
        while (r.More)
        {
            var (field, wire) = r.Tag();
            if (field == 2 && wire == 2) { p = p with { PrecompiledCharsmapBytes = r.Sub().Length }; continue; }
            if (wire != 0) { r.Skip(wire); continue; }
            bool v = r.Varint() != 0;
            p = field switch
            {
                3 => p with { AddDummyPrefix = v },
                4 => p with { RemoveExtraWhitespaces = v },
                5 => p with { EscapeWhitespaces = v },
                _ => p,
            };
        }
        return p;
    }

    /// <summary>The serialized ModelProto (no precompiled normalization rules: the "identity" normalizer).</summary>
    public byte[] ToBytes()
    {
        if (Scores.Count != Pieces.Count || Types.Count != Pieces.Count)
            throw new InvalidOperationException($"{Pieces.Count} pieces, {Scores.Count} scores, {Types.Count} types.");
        using var ms = new MemoryStream();
        for (int i = 0; i < Pieces.Count; i++)
        {
            var body = new MemoryStream();
            Writer.String(body, 1, Pieces[i]);
            Writer.Float(body, 2, Scores[i]);
            Writer.Varint(body, 3, (ulong)Types[i]);
            Writer.Bytes(ms, 1, body.ToArray());
        }
        var trainer = new MemoryStream();
        Writer.Varint(trainer, 3, (ulong)ModelType);
        Writer.Varint(trainer, 24, TreatWhitespaceAsSuffix ? 1UL : 0);
        Writer.Varint(trainer, 35, ByteFallback ? 1UL : 0);
        // int32 fields: negative values are sign-extended to 64 bits on the wire (protobuf encoding rules).
        Writer.Varint(trainer, 40, unchecked((ulong)(long)UnknownId));
        Writer.Varint(trainer, 41, unchecked((ulong)(long)BosId));
        Writer.Varint(trainer, 42, unchecked((ulong)(long)EosId));
        Writer.Varint(trainer, 43, unchecked((ulong)(long)PadId));
        Writer.Bytes(ms, 2, trainer.ToArray());
        var normalizer = new MemoryStream();
        Writer.String(normalizer, 1, "identity");
        Writer.Varint(normalizer, 3, AddDummyPrefix ? 1UL : 0);
        Writer.Varint(normalizer, 4, RemoveExtraWhitespaces ? 1UL : 0);
        Writer.Varint(normalizer, 5, EscapeWhitespaces ? 1UL : 0);
        Writer.Bytes(ms, 3, normalizer.ToArray());
        return ms.ToArray();
    }

    private static class Writer
    {
        public static void Varint(Stream s, int field, ulong value) { Raw(s, (ulong)(field << 3)); Raw(s, value); }
        public static void Float(Stream s, int field, float value) { Raw(s, (ulong)((field << 3) | 5)); s.Write(BitConverter.GetBytes(value)); }
        public static void String(Stream s, int field, string value) => Bytes(s, field, Encoding.UTF8.GetBytes(value));
        public static void Bytes(Stream s, int field, byte[] value) { Raw(s, (ulong)((field << 3) | 2)); Raw(s, (ulong)value.Length); s.Write(value); }
        private static void Raw(Stream s, ulong v)
        {
            while (v >= 0x80) { s.WriteByte((byte)(v | 0x80)); v >>= 7; }
            s.WriteByte((byte)v);
        }
    }

    /// <summary>Protobuf wire-format reader over one message's bytes.</summary>
    private sealed class Reader(byte[] data, int start = 0, int end = -1)
    {
        private readonly int _end = end < 0 ? data.Length : end;
        private int _pos = start;

        public bool More => _pos < _end;
        public int Length => _end - _pos;

        public (int Field, int Wire) Tag()
        {
            ulong tag = Varint();
            return ((int)(tag >> 3), (int)(tag & 7));
        }

        public ulong Varint()
        {
            ulong result = 0;
            for (int shift = 0; shift < 64; shift += 7)
            {
                byte b = Next();
                result |= (ulong)(b & 0x7F) << shift;
                if (b < 0x80) return result;
            }
            throw new InvalidDataException("varint longer than 10 bytes");
        }

        public float Float()
        {
            if (_pos + 4 > _end) throw new InvalidDataException("truncated float");
            float f = BitConverter.ToSingle(data, _pos);
            _pos += 4;
            return f;
        }

        public Reader Sub()
        {
            int len = checked((int)Varint());
            if (len < 0 || _pos + len > _end) throw new InvalidDataException("length-delimited field runs past its message");
            var sub = new Reader(data, _pos, _pos + len);
            _pos += len;
            return sub;
        }

        public string String()
        {
            var sub = Sub();
            return new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(data, sub._pos, sub.Length);
        }

        public void Skip(int wire)
        {
            switch (wire)
            {
                case 0: Varint(); break;
                case 1: _pos += 8; break;
                case 2: Sub(); break;
                case 5: _pos += 4; break;
                default: throw new InvalidDataException($"wire type {wire}");
            }
            if (_pos > _end) throw new InvalidDataException("field runs past its message");
        }

        private byte Next() => _pos < _end ? data[_pos++] : throw new InvalidDataException("truncated message");
    }
}
