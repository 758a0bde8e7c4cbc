namespace OrleansDiffusion.Diffusion.Exchange;

/// <summary>A list of indices into a buffer as runs of consecutive ones: a tile's shared cells along a window row are
/// consecutive band-canvas cells, so its reply is a few block copies, and the list costs a few ints per row.</summary>
internal sealed class CopyRuns(int[] starts, int[] lengths, int count)
{
    public int Count => count;

    public static CopyRuns Of(int[] cells, Func<int, int> index)
    {
        var (starts, lengths) = (new List<int>(), new List<int>());
        for (var k = 0; k < cells.Length; k++)
        {
            var i = index(cells[k]);
            if (starts.Count > 0 && starts[^1] + lengths[^1] == i) lengths[^1]++;
            else
            {
                starts.Add(i);
                lengths.Add(1);
            }
        }
        return new CopyRuns([.. starts], [.. lengths], cells.Length);
    }

    /// <summary>target[k] = source[the k-th index].</summary>
    public void Copy(ReadOnlySpan<float> source, Span<float> target)
    {
        var at = 0;
        for (var r = 0; r < starts.Length; r++)
        {
            source.Slice(starts[r], lengths[r]).CopyTo(target.Slice(at, lengths[r]));
            at += lengths[r];
        }
    }
}
