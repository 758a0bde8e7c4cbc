namespace OrleansDiffusion.Grains;

/// <summary>How the tiles on one silo are split into tile host messages.</summary>
internal static class TileHostMessages
{
    /// <summary><paramref name="tiles"/> in order, in runs whose bytes down and bytes up each stay within
    /// <paramref name="limit"/>; a tile larger than the limit goes alone.</summary>
    public static IEnumerable<int[]> Split(int[] tiles, Func<int, long> down, Func<int, long> up, long limit)
    {
        var run = new List<int>();
        long runDown = 0, runUp = 0;
        foreach (var tile in tiles)
        {
            var (d, u) = (down(tile), up(tile));
            if (run.Count > 0 && (runDown + d > limit || runUp + u > limit))
            {
                yield return [.. run];
                (run, runDown, runUp) = ([], 0, 0);
            }
            run.Add(tile);
            (runDown, runUp) = (runDown + d, runUp + u);
        }
        if (run.Count > 0) yield return [.. run];
    }
}
