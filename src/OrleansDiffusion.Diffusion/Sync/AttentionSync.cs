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
/// <item>Tokens: each tile pools its proposal into cells (summary tokens at canvas positions).</item>
/// <item>Overlaps: at every pixel the covering tiles are weighted by softmax_i(log g_i + λ·s_i), where g_i is the
/// window Gaussian (spatial bias toward window centres) and s_i the similarity of tile i's token to the
/// Gaussian-weighted consensus token, normalised by the local disagreement. λ = 0 gives Gaussian sync exactly.</item>
/// </list>
/// Every rule is the same for each pair of tiles and sums over tiles, so permuting tiles never changes the result.
/// </summary>
public sealed class AttentionSync(AttentionSyncOptions? options = null) : ISyncMode
{
    private const float MinLogit = -20f;
    private readonly AttentionSyncOptions _options = options ?? new AttentionSyncOptions();

    public SyncMode Mode => SyncMode.Attention;

    /// <summary>Local denoisers read their receptive halo from the synced canvas (see <see cref="WeightedAverageSync.Context"/>).</summary>
    public int Context(int maxDenoiserHalo) => maxDenoiserHalo;
    public AttentionSyncOptions Options => _options;

    public SyncResult Synchronize(SyncInput input) => CanvasSync.Result(input, Blend(input));

    private Tensor Blend(SyncInput input)
    {
        using var scope = NewDisposeScope();
        var plan = input.Plan;
        var gaussian = WeightedAverageSync.GaussianWeight(plan);
        var proposals = SyncTone(input);
        var tokens = proposals.Select(Tokens).ToArray();

        var lambda = _options.ContentStrength;
        Tensor[] weights;
        if (lambda == 0)
        {
            weights = proposals.Select(_ => gaussian).ToArray();
        }
        else
        {
            // Consensus token Q and local disagreement V on the canvas, then per-tile attention logits.
            var consensus = WeightedAverageSync.Blend(plan, tokens, _ => gaussian);
            var distances = tokens.Select((t, i) => Crop(consensus, plan, i).sub_(t).pow_(2).sum(0, keepdim: true)).ToArray();
            var disagreement = WeightedAverageSync.Blend(plan, distances, _ => gaussian);
            weights = new Tensor[proposals.Length];
            for (var i = 0; i < proposals.Length; i++)
            {
                var logit = distances[i].div(Crop(disagreement, plan, i).add_(1e-12f).mul_(2)).neg_().mul_(lambda).clamp_min_(MinLogit);
                weights[i] = gaussian * logit.exp_();
            }
        }
        return WeightedAverageSync.Blend(plan, proposals, i => weights[i]).MoveToOuterDisposeScope();
    }

    private static Tensor Crop(Tensor canvas, JobPlan plan, int tile) =>
        CanvasRegions.Crop(canvas, plan.Layout.Windows[tile], 0, plan.Layout.Wrap);

    /// <summary>[C, h, w] tokens: cell means, bilinearly spread back over the window so tiles compare at equal canvas positions.</summary>
    private Tensor Tokens(Tensor proposal)
    {
        var height = proposal.shape[^2];
        var width = proposal.shape[^1];
        var cells = new[] { Math.Max(1, height / _options.CellSize), Math.Max(1, width / _options.CellSize) };
        using var pooled = nn.functional.adaptive_avg_pool2d(proposal.unsqueeze(0), cells);
        return nn.functional.interpolate(pooled, [height, width], mode: InterpolationMode.Bilinear, align_corners: false).squeeze(0);
    }

    /// <summary>Requirement (d): pull per-channel mean/spread toward the attention-weighted mix of all tiles.</summary>
    private Tensor[] SyncTone(SyncInput input)
    {
        var proposals = input.Proposals.ToArray();
        var strength = input.Steps <= 1 ? 0 : _options.ToneStrength * Math.Pow(1 - (double)input.Step / (input.Steps - 1), 2);
        if (strength <= 0 || proposals.Length < 2) return proposals;

        var means = stack(proposals.Select(p => p.mean([1, 2])).ToArray());           // [T, C]
        var spreads = stack(proposals.Select(p => p.std([1, 2])).ToArray()).clamp_min(1e-6);
        var attention = ToneAttention(input.Plan, means);                            // [T, T], rows sum to 1
        var targetMeans = attention.mm(means);
        var targetSpreads = attention.mm(spreads);
        var result = new Tensor[proposals.Length];
        for (var i = 0; i < proposals.Length; i++)
        {
            var mean = means[i].view(-1, 1, 1);
            var scale = (1 + strength * (targetSpreads[i] / spreads[i] - 1)).view(-1, 1, 1);
            var shift = (strength * (targetMeans[i] - means[i])).view(-1, 1, 1);
            result[i] = (proposals[i] - mean).mul_(scale).add_(mean).add_(shift);
        }
        return result;
    }

    private Tensor ToneAttention(JobPlan plan, Tensor means)
    {
        var layout = plan.Layout;
        var count = layout.Count;
        var spatial = new float[count * count];
        var scale = _options.SpatialScale * Math.Sqrt((double)layout.CanvasWidth * layout.CanvasWidth + (double)layout.CanvasHeight * layout.CanvasHeight);
        for (var i = 0; i < count; i++)
            for (var j = 0; j < count; j++)
            {
                var dx = Distance(layout.Windows[i].CenterX, layout.Windows[j].CenterX, layout.CanvasWidth, layout.Wrap);
                var dy = Distance(layout.Windows[i].CenterY, layout.Windows[j].CenterY, layout.CanvasHeight, layout.Wrap);
                spatial[i * count + j] = (float)(-(dx * dx + dy * dy) / (2 * scale * scale));
            }
        var difference = means.unsqueeze(1) - means.unsqueeze(0);                      // [T, T, C]
        var squared = difference.square().sum(2);
        var spread = squared.mean().add(1e-12);
        var logits = tensor(spatial, [count, count]) - _options.ContentStrength * squared / (2 * spread);
        return logits.softmax(1);
    }

    private static double Distance(double a, double b, int size, bool wrap)
    {
        var d = Math.Abs(a - b);
        return wrap ? Math.Min(d, size - d) : d;
    }
}
