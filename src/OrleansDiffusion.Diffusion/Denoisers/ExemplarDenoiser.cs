using OrleansDiffusion.Diffusion.Schedulers;
using TorchSharp;
using static TorchSharp.torch;

namespace OrleansDiffusion.Diffusion.Denoisers;

/// <summary>
/// The equivariant local score machine (Kamb &amp; Ganguli 2024): for every pixel, a softmax over exemplar
/// patches of −‖x_Ω − a·P‖²/(2b²) weights the patches' centre pixels into x̂0. Local and translation
/// equivariant, so a window with a halo of k/2 computes exactly what the whole canvas would.
/// <para>
/// Fast form: ‖x_Ω‖² is the same for every patch and drops out of the softmax; the dot products x_Ω·P run
/// in a principal-component basis of the patch bank (one small convolution plus one matrix product per
/// pixel block) while ‖P‖² stays exact. With <see cref="ExemplarDenoiserOptions.ProjectionDims"/> = null
/// the basis is complete and the result is the exact formula.
/// </para>
/// </summary>
public sealed class ExemplarDenoiser : IDenoiser
{
    private const float MinExponent = -80f;
    private readonly ExemplarDenoiserOptions _options;
    private readonly Tensor _centres;              // [N, C]
    private readonly Dictionary<PatchGeometry, PatchBank> _banks = [];

    public ExemplarDenoiser(Tensor exemplar, ExemplarDenoiserOptions? options = null, string name = "exemplar")
    {
        Name = name;
        _options = options ?? new ExemplarDenoiserOptions();
        if (exemplar.dim() != 3) throw new ArgumentException("exemplar must be [channels, height, width]", nameof(exemplar));
        Channels = (int)exemplar.shape[0];
        var height = (int)exemplar.shape[1];
        var width = (int)exemplar.shape[2];
        var margin = _options.Schedule.LargestRadius;
        if (height <= 2 * margin + 1 || width <= 2 * margin + 1)
            throw new ArgumentException($"exemplar must be larger than {2 * margin + 1}×{2 * margin + 1} pixels (the widest patch), got {width}×{height}", nameof(exemplar));

        using var scope = NewDisposeScope();
        var pixels = exemplar.to(ScalarType.Float32).contiguous().data<float>().ToArray();
        var random = new Random(_options.BankSeed);
        var count = _options.PatchCount;
        var ys = new int[count];
        var xs = new int[count];
        for (var n = 0; n < count; n++)
        {
            ys[n] = random.Next(margin, height - margin);
            xs[n] = random.Next(margin, width - margin);
        }

        var centres = new float[count * Channels];
        for (var n = 0; n < count; n++)
            for (var c = 0; c < Channels; c++)
                centres[n * Channels + c] = pixels[(c * height + ys[n]) * width + xs[n]];
        _centres = tensor(centres, [count, Channels]).DetachFromDisposeScope();

        foreach (var geometry in _options.Schedule.Levels.Select(l => l.Geometry).Distinct())
            _banks[geometry] = PatchBank.Build(exemplar, ys, xs, geometry, _options.ProjectionDims);
    }

    /// <summary>Names the exemplar in output metadata, e.g. "exemplar:marble".</summary>
    public string Name { get; }

    public int Channels { get; }
    public PredictionType Prediction => PredictionType.Sample;
    public int PatchCount => _options.PatchCount;

    public int Halo(DenoiseContext context) => _options.Schedule.At(context.AlphaBar).Radius;

    public int MaxHalo => _options.Schedule.LargestRadius;

    public Tensor Predict(Tensor input, int halo, DenoiseContext context)
    {
        var geometry = _options.Schedule.At(context.AlphaBar);
        if (halo != geometry.Radius) throw new ArgumentException($"step {context.Step} needs a halo of {geometry.Radius}, got {halo}", nameof(halo));
        var bank = _banks[geometry];
        var batch = input.shape[0];
        var outHeight = input.shape[2] - 2 * halo;
        var outWidth = input.shape[3] - 2 * halo;

        using var scope = NewDisposeScope();
        var a = Math.Sqrt(context.AlphaBar);
        var b2 = 1 - context.AlphaBar;
        // logit_p = (a·x_Ω·P_p − a²‖P_p‖²/2) / b²  (‖x_Ω‖² is common to all p and cancels in the softmax)
        var bias = bank.HalfNorms * (-a * a / b2);
        var result = empty(batch, outHeight * outWidth, Channels);
        var chunk = _options.ChunkPixels;
        // Window by window, in fixed pixel blocks: a window's result then never depends on which other
        // windows share its batch, so in-process and cluster runs agree bit for bit.
        for (var b = 0; b < batch; b++)
        {
            using var window = NewDisposeScope();
            var features = nn.functional.conv2d(Blur(input.narrow(0, b, 1).to(ScalarType.Float32), geometry), bank.Filters,
                dilation: [geometry.Dilation, geometry.Dilation]).permute(0, 2, 3, 1).reshape(-1, bank.Filters.shape[0]);
            var pixels = features.shape[0];
            for (long start = 0; start < pixels; start += chunk)
            {
                using var inner = NewDisposeScope();
                var length = Math.Min(chunk, pixels - start);
                var logits = addmm(bias, features.narrow(0, start, length), bank.Keys, beta: 1, alpha: (float)(a / b2));
                // Softmax by hand: clamping at e^-80 keeps every weight a normal float. Denormals from
                // near-one-hot softmaxes at low noise would otherwise slow the CPU down tenfold.
                var weights = logits.sub_(logits.amax([1], keepdim: true)).clamp_min_(MinExponent).exp_();
                result[b].narrow(0, start, length).copy_(weights.mm(_centres).div_(weights.sum(1, keepdim: true)));
            }
        }
        return result.reshape(batch, outHeight, outWidth, Channels).permute(0, 3, 1, 2).contiguous().MoveToOuterDisposeScope();
    }

    /// <summary>Box blur of width 2·radius + 1 without padding (the halo supplies the border).</summary>
    private static Tensor Blur(Tensor batch, PatchGeometry geometry)
    {
        var width = 2 * geometry.BlurRadius + 1;
        return width == 1 ? batch.alias() : nn.functional.avg_pool2d(batch, [width, width], [1, 1]);
    }

    public void Dispose()
    {
        _centres.Dispose();
        foreach (var bank in _banks.Values) bank.Dispose();
    }

    /// <summary>The patches of one size, projected: conv filters [d, C, k, k], keys [d, N], ‖P‖²/2 [N].</summary>
    private sealed class PatchBank(Tensor filters, Tensor keys, Tensor halfNorms) : IDisposable
    {
        public Tensor Filters { get; } = filters;
        public Tensor Keys { get; } = keys;
        public Tensor HalfNorms { get; } = halfNorms;

        public static PatchBank Build(Tensor exemplar, int[] ys, int[] xs, PatchGeometry geometry, int? dims)
        {
            using var scope = NewDisposeScope();
            using var blurred = Blur(exemplar.unsqueeze(0).to(ScalarType.Float32), geometry).squeeze(0).contiguous();
            var channels = (int)blurred.shape[0];
            var height = (int)blurred.shape[1];
            var width = (int)blurred.shape[2];
            var pixels = blurred.data<float>().ToArray();
            var (k, step, offset) = (geometry.Size, geometry.Dilation, geometry.BlurRadius);
            var count = ys.Length;
            var size = channels * k * k;
            var data = new float[count * size];
            var r = k / 2;
            for (var n = 0; n < count; n++)
                for (var c = 0; c < channels; c++)
                    for (var u = 0; u < k; u++)
                        for (var v = 0; v < k; v++)
                            data[n * size + (c * k + u) * k + v] =
                                pixels[(c * height + ys[n] - offset + (u - r) * step) * width + xs[n] - offset + (v - r) * step];
            var patches = tensor(data, [count, size]);
            var halfNorms = patches.square().sum(1) * 0.5f;
            Tensor basis; // [d, size]: orthonormal rows spanning the patches' principal directions
            if (dims is null || dims.Value >= Math.Min(count, size))
            {
                basis = eye(size);
            }
            else
            {
                var (_, _, vh) = linalg.svd(patches.to(ScalarType.Float64), fullMatrices: false);
                basis = vh.narrow(0, 0, dims.Value).to(ScalarType.Float32);
            }
            var keys = basis.mm(patches.t()).contiguous();
            var filters = basis.reshape(basis.shape[0], channels, k, k).contiguous();
            return new PatchBank(filters.DetachFromDisposeScope(), keys.DetachFromDisposeScope(), halfNorms.DetachFromDisposeScope());
        }

        public void Dispose()
        {
            Filters.Dispose();
            Keys.Dispose();
            HalfNorms.Dispose();
        }
    }
}
