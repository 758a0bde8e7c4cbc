using OrleansDiffusion.Abstractions;
using static TorchSharp.torch;
using OrleansDiffusion.Diffusion.Tiling;

namespace OrleansDiffusion.Diffusion.Sync;

/// <summary>
/// Bidirectional cross-spatial attention, this product's sync (DESIGN §5.3):
/// <list type="number">
/// <item>Tone: every tile's per-channel mean and spread are pulled toward an attention-weighted mix of all
/// tiles' statistics (softmax of content similarity plus a spatial bias between tile centres), with a
/// strength that decays to zero over the run, so distant tiles do not drift apart in tone.</item>
/// <item>Tokens: each tile pools its proposal into cells (summary tokens at canvas positions), spread back bilinearly
/// over the window; the tone correction (affine per channel) is applied to proposal and tokens alike.</item>
/// <item>Overlaps: at every pixel the covering tiles are weighted by softmax_i(log g_i + λ·s_i), where g_i is the
/// window Gaussian (spatial bias toward window centres) and s_i the similarity of tile i's token to the
/// Gaussian-weighted consensus token, normalised by the local disagreement. λ = 0 gives Gaussian sync exactly.</item>
/// </list>
/// Every rule is the same for each pair of tiles and sums over tiles, so permuting tiles never changes the result.
/// All of it runs on all tiles at once (stacked proposals, flat canvas indices; see <see cref="SyncGeometry"/>).
/// </summary>
public sealed class AttentionSync(AttentionSyncOptions? options = null) : ISyncMode
{
    private readonly AttentionSyncOptions _options = options ?? new AttentionSyncOptions();

    public SyncMode Mode => SyncMode.Attention;

    /// <summary>Local denoisers read their receptive halo from the synced canvas (see <see cref="WeightedAverageSync.Context"/>).</summary>
    public int Context(int maxDenoiserHalo) => maxDenoiserHalo;
    public AttentionSyncOptions Options => _options;

    public SyncResult Synchronize(SyncInput input) => CanvasSync.Result(input, Blend(input));

    private Tensor Blend(SyncInput input)
    {
        using var scope = NewDisposeScope();
        var geometry = SyncGeometry.Of(input.Plan.Layout);
        var stacked = geometry.Stack(input.Proposals);                          // [C, T, h, w], grid order
        var tokens = UsesTokens ? Interpolate(Pool(stacked), geometry.Layout) : null;
        var (means, spreads) = Statistics(stacked);
        var tone = Tone(geometry, input.Step, input.Steps, means, spreads);
        return Blend(geometry, stacked, tokens, means, tone).MoveToOuterDisposeScope();
    }

    /// <summary>The synced canvas from stacked windows and tokens [C, T, h, w], their statistics and the tone correction
    /// ([T, C] each, grid order): the coordinator's whole canvas, or a lone tile's own cells.</summary>
    internal Tensor Blend(SyncGeometry geometry, Tensor values, Tensor? tokens, Tensor means, (Tensor Scale, Tensor Shift)? tone)
    {
        using var scope = NewDisposeScope();
        if (tone is var (scale, shift))
        {
            // [T, C] → [C, T, 1, 1]: each element gets its own tile's parameters.
            var (m, s, b) = (PerElement(means), PerElement(scale), PerElement(shift));
            values = FlatSync.Tone(values, m, s, b);
            if (tokens is not null) tokens = FlatSync.Tone(tokens, m, s, b);
        }
        var canvas = tokens is null
            ? FlatSync.Mean(geometry, values, geometry.Gaussian, geometry.GaussianTotal)
            : FlatSync.Attention(geometry, values, tokens, _options.ContentStrength);
        return canvas.MoveToOuterDisposeScope();
    }

    private static Tensor PerElement(Tensor perTile) => perTile.t().unsqueeze(2).unsqueeze(3);

    /// <summary>Whether the overlap weights use content tokens (λ ≠ 0).</summary>
    internal bool UsesTokens => _options.ContentStrength != 0;

    /// <summary>Token cells of an h×w window: [rows, columns].</summary>
    internal long[] TokenCells(long height, long width) =>
        [Math.Max(1, height / _options.CellSize), Math.Max(1, width / _options.CellSize)];

    /// <summary>[N, M, rows, columns] cell means of window planes [N, M, h, w] (a tile's own [1, C, h, w], or all tiles'
    /// [C, T, h, w]: every plane is pooled on its own, so both give the same bits).</summary>
    internal Tensor Pool(Tensor planes) =>
        nn.functional.adaptive_avg_pool2d(planes, TokenCells(planes.shape[^2], planes.shape[^1]));

    /// <summary>Pooled cells spread back bilinearly over the window (half-pixel centres, clamped at the edges, as torch's
    /// bilinear interpolate without align_corners): [N, M, h, w]. Written as gathers and element-wise products so each
    /// plane gets the same bits however many planes are batched (torch's interpolate kernel does not promise that).</summary>
    internal static Tensor Interpolate(Tensor pooled, TileLayout layout)
    {
        using var scope = NewDisposeScope();
        var (x0, x1, wx0, wx1) = Axis((int)pooled.shape[^1], layout.TileWidth);
        var (y0, y1, wy0, wy1) = Axis((int)pooled.shape[^2], layout.TileHeight);
        var across = pooled.index_select(-1, x0).mul_(wx0).add_(pooled.index_select(-1, x1).mul_(wx1));    // [N, M, rows, w]
        var result = across.index_select(-2, y0).mul_(wy0.unsqueeze(1)).add_(across.index_select(-2, y1).mul_(wy1.unsqueeze(1)));
        return result.MoveToOuterDisposeScope();
    }

    /// <summary>Source cells and weights of every output position along one axis.</summary>
    private static (Tensor First, Tensor Second, Tensor FirstWeight, Tensor SecondWeight) Axis(int cells, int length)
    {
        var first = new long[length];
        var second = new long[length];
        var firstWeight = new float[length];
        var secondWeight = new float[length];
        var scale = (double)cells / length;
        for (var i = 0; i < length; i++)
        {
            var source = Math.Max(scale * (i + 0.5) - 0.5, 0);
            var lower = Math.Min((int)source, cells - 1);
            first[i] = lower;
            second[i] = Math.Min(lower + 1, cells - 1);
            secondWeight[i] = (float)(source - lower);
            firstWeight[i] = 1 - secondWeight[i];
        }
        return (tensor(first), tensor(second), tensor(firstWeight), tensor(secondWeight));
    }

    /// <summary>Per-tile, per-channel mean and (unbiased) spread of windows [C, T, h, w]: [T, C] each, contiguous.
    /// A tile computing its own ([C, 1, h, w]) gets the same bits.</summary>
    internal static (Tensor Mean, Tensor Spread) Statistics(Tensor values)
    {
        using var scope = NewDisposeScope();
        var flat = values.view(values.shape[0], values.shape[1], -1);
        var mean = flat.mean([2], keepdim: true);
        // Two passes (centre, then the sum of squares): cheaper than torch's per-element Welford update.
        var centred = flat - mean;
        var spread = centred.mul_(centred).sum(2).div_(Math.Max(1, flat.shape[2] - 1)).sqrt_();
        return (mean.squeeze(2).t().contiguous().MoveToOuterDisposeScope(), spread.t().contiguous().MoveToOuterDisposeScope());
    }

    /// <summary>Requirement (d): per tile and channel, the scale and shift that pull each tile's mean and spread toward the
    /// attention-weighted mix of all tiles' ([T, C] each); null when the pull has decayed to zero (or one tile).</summary>
    internal (Tensor Scale, Tensor Shift)? Tone(SyncGeometry geometry, int step, int steps, Tensor means, Tensor spreads)
    {
        var strength = steps <= 1 ? 0 : _options.ToneStrength * Math.Pow(1 - (double)step / (steps - 1), 2);
        if (strength <= 0 || geometry.Layout.Count < 2) return null;
        using var scope = NewDisposeScope();
        var clamped = spreads.clamp_min(1e-6);
        var attention = ToneAttention(geometry, means);                           // [T, T], rows sum to 1
        var targetMeans = attention.mm(means);
        var targetSpreads = attention.mm(clamped);
        var scale = (1 + strength * (targetSpreads / clamped - 1)).MoveToOuterDisposeScope();
        var shift = (strength * (targetMeans - means)).MoveToOuterDisposeScope();
        return (scale, shift);
    }

    private Tensor ToneAttention(SyncGeometry geometry, Tensor means)
    {
        var difference = means.unsqueeze(1) - means.unsqueeze(0);                      // [T, T, C]
        var squared = difference.square().sum(2);
        var spread = squared.mean().add(1e-12);
        var logits = geometry.SpatialBias(_options.SpatialScale) - _options.ContentStrength * squared / (2 * spread);
        return logits.softmax(1);
    }
}
