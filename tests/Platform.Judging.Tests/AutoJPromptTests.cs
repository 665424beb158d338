using Platform.Inference.Engine;
using Platform.Inference.Models;
using Platform.Inference.Tokenization;

namespace Platform.Judging.Tests;

public class AutoJPromptTests
{
    // Auto-J's own example query (codes/usage/example.py).
    private const string Query = "what is 1+0?";

    [Fact]
    public void RenderPairwise_IsAutoJsPublishedText()
    {
        // build_autoj_input("what is 1+0?", "1+0 is 11", "the answer is 1", "pairwise_tie"), written out by hand.
        const string expected = "[INST] You are assessing two submitted responses on a given user's query and judging which response is better or they are tied. Here is the data:\n\n[BEGIN DATA]\n***\n[Query]: what is 1+0?\n***\n[Response 1]: 1+0 is 11\n***\n[Response 2]: the answer is 1\n***\n[END DATA]\n\nHere are the instructions to assess and compare the two responses:\n\n1. Pinpoint the key factors to distinguish these two responses.\n2. Conclude your comparison by providing a final decision on which response is better, or they are tied. Begin your final decision statement with \"So, the final decision is Response 1 / Response 2 / Tie\". Ensure that your decision aligns coherently with the comprehensive evaluation and comparison you've provided. [/INST]";
        Assert.Equal(expected, AutoJPrompts.RenderPairwise(Query, "1+0 is 11", "the answer is 1"));
    }

    [Fact]
    public void RenderSingle_IsAutoJsPublishedText()
    {
        const string expected = "[INST] Write critiques for a submitted response on a given user's query, and grade the response:\n  \n[BEGIN DATA]\n***\n[Query]: what is 1+0?\n***\n[Response]: 1\n***\n[END DATA]\n\nWrite critiques for this response. After that, you should give a final rating for the response on a scale of 1 to 10 by strictly following this format: \"[[rating]]\", for example: \"Rating: [[5]]\". [/INST]";
        Assert.Equal(expected, AutoJPrompts.RenderSingle(Query, "1"));
    }

    [Fact]
    public void Render_PlaceholdersInsideResponses_AreNotExpanded()
    {
        var text = AutoJPrompts.RenderPairwise("{response}", "{response_another}", "{prompt}");
        Assert.Contains("[Query]: {response}\n", text);
        Assert.Contains("[Response 1]: {response_another}\n", text);
        Assert.Contains("[Response 2]: {prompt}\n", text);
    }

    /// <summary>
    /// The golden token ids: a Llama-2-format folder (LlamaForCausalLM, untied head, SentencePiece tokenizer.model with
    /// BOS, add_dummy_prefix and byte fallback) whose vocabulary has single characters only, so the ids of any text can
    /// be written down here independently: BOS, then "▁" + the text with spaces as "▁", one piece per character, and
    /// the byte-fallback piece &lt;0xXX&gt; (id 3 + byte) for characters outside the vocabulary (newlines, "[", "*").
    /// </summary>
    [Fact]
    public async Task RenderSingle_ThroughEngine_GivesExactLlama2TokenIds()
    {
        var folder = Path.Combine(Path.GetTempPath(), $"autoj-golden-{Environment.ProcessId}-{Guid.NewGuid():N}");
        try
        {
            TinyModelFactory.Create(folder, TinyModelFactory.TinyConfig() with { TieWordEmbeddings = false }, TokenizerKind.SentencePiece, seed: 7, merges: 0, chatTemplate: null);
            var vocab = ReadPieces(Path.Combine(folder, "tokenizer.model"));
            var prompt = AutoJPrompts.RenderSingle(Query, "1");
            var expected = new List<int> { 1 };   // <s>
            foreach (var rune in ("\u2581" + prompt.Replace(' ', '\u2581')).EnumerateRunes())
            {
                if (vocab.TryGetValue(rune.ToString(), out var id)) expected.Add(id);
                else
                {
                    var bytes = new byte[4];
                    int n = rune.EncodeToUtf8(bytes);
                    for (int i = 0; i < n; i++) expected.Add(3 + bytes[i]);
                }
            }
            // Spot check written out literally: <s> ▁ then "[" (byte 0x5B: 3 + 91 = 94) and "INST".
            int Char(char c) => vocab.TryGetValue(c.ToString(), out var v) ? v : 3 + c;
            Assert.Equal([1, vocab["\u2581"], 94, Char('I'), Char('N'), Char('S'), Char('T')], expected.Take(7));

            await using var engine = TextEngine.Load("autoj-tiny", folder, new EngineOptions { MaxContextTokens = 512, MaxConcurrentSequences = 1 });
            var tok = engine.Model.Tokenizer;
            Assert.Equal(TokenizerKind.SentencePiece, tok.Kind);
            Assert.Equal(expected, tok.Encode(prompt, addBos: tok.AddBos));
            // The request the judge sends counts exactly those tokens in the engine.
            var request = new GenerationRequest { Prompt = prompt, UseSetMarkers = true };
            Assert.Equal(expected.Count, engine.CountPromptTokens(request));
            Assert.Equal(expected.Count, engine.CountPromptTokens(new GenerationRequest { Prompt = prompt }));
            // And the judge runs it end to end (random weights: any text, then a null or parsed rating, never an error).
            var result = await new JudgeRunner(engine, maxTokens: 8).RateAsync([("user", new JudgeContent(Query))], new JudgeContent("1"), CancellationToken.None);
            Assert.Equal(expected.Count, result.PromptTokens);
            Assert.True(result.CompletionTokens is > 0 and <= 8);
        }
        finally
        {
            try { Directory.Delete(folder, recursive: true); } catch (IOException) { }
        }
    }

    /// <summary>Piece strings by id from a ModelProto (field 1: pieces, each with field 1: the piece string).</summary>
    private static Dictionary<string, int> ReadPieces(string path)
    {
        var bytes = File.ReadAllBytes(path);
        var result = new Dictionary<string, int>();
        int at = 0, id = 0;
        while (at < bytes.Length)
        {
            ulong key = Varint(bytes, ref at);
            int field = (int)(key >> 3), wire = (int)(key & 7);
            if (wire != 2) throw new InvalidDataException($"unexpected wire type {wire}");
            int len = (int)Varint(bytes, ref at);
            if (field == 1)
            {
                int p = at;
                ulong k = Varint(bytes, ref p);
                if (k >> 3 == 1)
                {
                    int l = (int)Varint(bytes, ref p);
                    result[System.Text.Encoding.UTF8.GetString(bytes, p, l)] = id;
                }
                id++;
            }
            at += len;
        }
        return result;
    }

    private static ulong Varint(byte[] b, ref int at)
    {
        ulong v = 0;
        for (int shift = 0; ; shift += 7)
        {
            byte x = b[at++];
            v |= (ulong)(x & 0x7F) << shift;
            if (x < 0x80) return v;
        }
    }
}
