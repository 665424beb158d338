using Platform.Inference.Models.Moe;
using Xunit;

namespace Platform.Inference.Tests.Models.Moe;

public class ModalityRoutingStatisticsTests
{
    [Fact]
    public void Summarise_DisjointExperts_MaximalDivergenceAndSpecificExperts()
    {
        // 4 experts, top-1: text always to experts 0/1 (evenly), images always to expert 3.
        var s = new ModalityRoutingStatistics(layers: 1, experts: 4);
        s.Record(0, [0, 1, 0, 1], 1, [Modality.Text, Modality.Text, Modality.Text, Modality.Text]);
        s.Record(0, [3, 3], 1, [Modality.Image, Modality.Image]);

        var r = s.Summarise(0);

        Assert.Equal(4, r.TextTokens);
        Assert.Equal(2, r.ImageTokens);
        Assert.Equal([0.5, 0.5, 0, 0], r.TextShare);
        Assert.Equal([0, 0, 0, 1.0], r.ImageShare);
        Assert.Equal(1.0, r.TextEntropyBits, 12);
        Assert.Equal(0.0, r.ImageEntropyBits, 12);
        Assert.Equal(1.0, r.JensenShannonBits, 12);   // disjoint supports
        Assert.Equal([3], r.ImageSpecific);
        Assert.Equal([0, 1], r.TextSpecific);
        Assert.True(double.IsNaN(r.ImageFraction[2]));
    }

    [Fact]
    public void Summarise_SameRoutingBothModalities_ZeroDivergenceNoSpecificExperts()
    {
        var s = new ModalityRoutingStatistics(1, 4);
        // top-2, both modalities uniform over the four experts.
        s.Record(0, [0, 1, 2, 3], 2, [Modality.Text, Modality.Text]);
        s.Record(0, [2, 3, 0, 1, 1, 0, 3, 2], 2, [Modality.Image, Modality.Image, Modality.Image, Modality.Image]);
        var r = s.Summarise(0);
        Assert.Equal(2.0, r.TextEntropyBits, 12);
        Assert.Equal(2.0, r.ImageEntropyBits, 12);
        Assert.Equal(0.0, r.JensenShannonBits, 12);
        Assert.Empty(r.ImageSpecific);
        Assert.Empty(r.TextSpecific);
        Assert.All(r.ImageFraction, f => Assert.Equal(0.5, f, 12));
        Assert.Equal(4, s.Count(0, Modality.Image, 2) + s.Count(0, Modality.Image, 3));
    }

    [Fact]
    public void JensenShannon_KnownValue()
    {
        // p = (1, 0), q = (1/2, 1/2): m = (3/4, 1/4); JS = H(m) - (0 + 1)/2 = 0.811278 - 0.5.
        Assert.Equal(0.311278124459, ModalityRoutingStatistics.JensenShannon([1, 0], [0.5, 0.5]), 9);
    }

    [Fact]
    public void Record_WrongLengths_Throws()
    {
        var s = new ModalityRoutingStatistics(1, 2);
        Assert.Throws<ArgumentException>(() => s.Record(0, [0, 1, 1], 2, [Modality.Text]));
    }
}
