using OrleansDiffusion.Diffusion.StableDiffusion.Modules;
using static TorchSharp.torch;

namespace OrleansDiffusion.Diffusion.StableDiffusion;

/// <summary>A rectangle of latent cells: top, left, height, width.</summary>
public readonly record struct LatentRegion(int Top, int Left, int Height, int Width);

/// <summary>
/// One tile's VAE decode as explicit stages, for a tiled decode whose GroupNorms use statistics pooled over all
/// tiles. The session runs the decoder on its latent crop (the tile's core plus a halo of context) up to the next
/// GroupNorm and stops there with the partial <see cref="Statistics"/> of its core region; <see cref="Continue"/>
/// takes the statistics pooled over every tile (<see cref="GroupStatistics.Sum"/>), applies that norm and runs on to
/// the next one. After the last norm the session is <see cref="IsComplete"/> and <see cref="Output"/> holds the core's
/// pixels. Each layer runs once per tile; nothing is recomputed unless the session is <see cref="Park"/>ed.
/// <para>
/// A coordinator drives the sessions of all tiles in lock step: gather <see cref="Statistics"/>, sum, send back.
/// The sessions can live anywhere (one process, or worker silos with the sums reduced on a coordinator); the
/// result is the same. Between stages a session holds its current activation and, inside a resnet, the block's
/// input (about <see cref="LiveBytes"/>). <see cref="Park"/> drops them, keeping only the latent crop and the pooled
/// statistics it has received; the next <see cref="Continue"/> then replays the decoder up to where it stood.
/// </para>
/// </summary>
public sealed class VaeDecodeSession : IDisposable
{
    private readonly AutoencoderKL _vae;
    private readonly Tensor _input; // post_quant_conv of the latent crop: [1, C, h, w]
    private readonly LatentRegion _core;
    private readonly List<GroupStatistics> _pooled = [];
    private IEnumerator<GroupNorm2d>? _walk;
    private Tensor? _pending; // the tensor the current norm normalizes (owned by the walk)
    private Tensor? _kept; // the block input a resnet keeps beside _pending at its second norm (owned by the walk)
    private Tensor? _normalized; // handed to the walk after a norm (the walk takes ownership)
    private Tensor? _output;
    private int _replayNorm = -1; // while replaying: norms below this index apply _pooled without measuring

    /// <param name="latentCrop">the scaled latent [C, h, w] of the tile's core plus its halo.</param>
    /// <param name="core">the tile's own cells inside <paramref name="latentCrop"/>.</param>
    public VaeDecodeSession(AutoencoderKL vae, Tensor latentCrop, LatentRegion core)
    {
        ArgumentNullException.ThrowIfNull(vae);
        ArgumentNullException.ThrowIfNull(latentCrop);
        if (latentCrop.dim() != 3) throw new ArgumentException($"the latent crop must be [C, h, w], got [{string.Join(", ", latentCrop.shape)}]", nameof(latentCrop));
        if (core.Top < 0 || core.Left < 0 || core.Height < 1 || core.Width < 1 || core.Top + core.Height > latentCrop.shape[1] || core.Left + core.Width > latentCrop.shape[2])
            throw new ArgumentOutOfRangeException(nameof(core), core, $"the core must lie inside the {latentCrop.shape[1]}×{latentCrop.shape[2]} crop");
        _vae = vae;
        _core = core;
        NormCount = Norms(vae).Length;
        using var noGrad = no_grad();
        using var batch = latentCrop.unsqueeze(0);
        _input = vae.DecoderInput(batch);
        Advance();
    }

    /// <summary>The session of <paramref name="window"/> of a whole latent canvas [C, H, W], with <paramref name="halo"/> cells of context (clipped at the canvas edges).</summary>
    public static VaeDecodeSession ForWindow(AutoencoderKL vae, Tensor canvas, LatentRegion window, int halo)
    {
        var (crop, core) = CropOf(window, halo, (int)canvas.shape[1], (int)canvas.shape[2]);
        using var rows = canvas.narrow(1, crop.Top, crop.Height);
        using var latentCrop = rows.narrow(2, crop.Left, crop.Width);
        return new VaeDecodeSession(vae, latentCrop, core);
    }

    /// <summary>GroupNorms a decode passes through (each waits for pooled statistics).</summary>
    /// <summary>The crop a window decodes from (the window plus <paramref name="halo"/> cells, clipped at the canvas edges)
    /// and the window's place inside it.</summary>
    public static (LatentRegion Crop, LatentRegion Core) CropOf(LatentRegion window, int halo, int height, int width)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(halo);
        var top = Math.Max(0, window.Top - halo);
        var left = Math.Max(0, window.Left - halo);
        var bottom = Math.Min(height, window.Top + window.Height + halo);
        var right = Math.Min(width, window.Left + window.Width + halo);
        return (new LatentRegion(top, left, bottom - top, right - left), window with { Top = window.Top - top, Left = window.Left - left });
    }

    public int NormCount { get; }

    /// <summary>Index of the norm waiting for pooled statistics (= <see cref="NormCount"/> once complete).</summary>
    public int NormIndex => _pooled.Count;

    public bool IsComplete => _output is not null;

    public bool IsParked => _walk is null && !IsComplete;

    /// <summary>This tile's partial statistics at norm <see cref="NormIndex"/>.</summary>
    public GroupStatistics Statistics { get; private set; } = null!;

    /// <summary>The core's pixels [3, H·f, W·f] (not clamped) once complete; the session keeps ownership.</summary>
    public Tensor Output => _output ?? throw new InvalidOperationException($"the decode is at norm {NormIndex} of {NormCount}, not complete");

    /// <summary>Bytes of activations the session holds between stages: the tensor the current norm waits on and, at a
    /// resnet's second norm, the block input kept beside it (or the output once complete); what <see cref="Park"/> frees.</summary>
    public long LiveBytes => Bytes(_pending) + Bytes(_kept) + Bytes(_output);

    private static long Bytes(Tensor? t) => t is null ? 0 : t.NumberOfElements * t.ElementSize;

    /// <summary>Applies norm <see cref="NormIndex"/> with the statistics pooled over all tiles and runs to the next norm.</summary>
    public void Continue(GroupStatistics pooled)
    {
        ArgumentNullException.ThrowIfNull(pooled);
        if (IsComplete) throw new InvalidOperationException("the decode is complete");
        if (pooled.Norm != NormIndex) throw new ArgumentException($"statistics of norm {pooled.Norm} given at norm {NormIndex}", nameof(pooled));
        _pooled.Add(pooled);
        if (_walk is null)
        {
            // parked: replay the decoder from the input through the norms already pooled
            _replayNorm = _pooled.Count;
            _walk = Walk().GetEnumerator();
        }
        else
        {
            _normalized = Normalize(_walk.Current, _pending!, pooled);
        }
        Advance();
    }

    /// <summary>Drops the activations (memory back to the latent crop); the next <see cref="Continue"/> recomputes them.</summary>
    public void Park()
    {
        if (_walk is null || IsComplete) return;
        _walk.Dispose(); // runs the walk's finally blocks: its tensors are disposed
        _walk = null;
        (_pending, _kept) = (null, null);
        _normalized?.Dispose();
        _normalized = null;
    }

    public void Dispose()
    {
        Park();
        _input.Dispose();
        _output?.Dispose();
    }

    internal static GroupNorm2d[] Norms(AutoencoderKL vae) => vae.decoder.Norms.ToArray();

    /// <summary>Runs the walk to its next norm that needs statistics, or to the end.</summary>
    private void Advance()
    {
        using var noGrad = no_grad();
        _walk ??= Walk().GetEnumerator();
        var index = _replayNorm >= 0 ? 0 : NormIndex;
        while (_walk.MoveNext())
        {
            if (_replayNorm >= 0 && index < _replayNorm)
            {
                _normalized = Normalize(_walk.Current, _pending!, _pooled[index]);
                index++;
                continue;
            }
            _replayNorm = -1;
            Statistics = Measure(_walk.Current, _pending!, NormIndex);
            return;
        }
        _walk.Dispose();
        _walk = null;
        (_pending, _kept) = (null, null);
    }

    /// <summary>Partial sums over the core region of <paramref name="input"/> (its resolution is a multiple of the crop's).</summary>
    private GroupStatistics Measure(GroupNorm2d norm, Tensor input, int index)
    {
        var scale = input.shape[2] / _input.shape[2];
        var (batch, channels) = (input.shape[0], input.shape[1]);
        // Every view is disposed here: a leaked view keeps the whole activation alive until the finalizer runs.
        using var scope = NewDisposeScope();
        var core = input.narrow(2, _core.Top * scale, _core.Height * scale).narrow(3, _core.Left * scale, _core.Width * scale);
        var grouped = core.to(ScalarType.Float64).reshape(batch, norm.Groups, channels / norm.Groups, -1);
        var sumsCpu = grouped.sum([0, 2, 3]).cpu();
        var squareSumsCpu = grouped.square().sum([0, 2, 3]).cpu();
        return new GroupStatistics(index, sumsCpu.data<double>().ToArray(), squareSumsCpu.data<double>().ToArray(), batch * grouped.shape[2] * grouped.shape[3]);
    }

    private static Tensor Normalize(GroupNorm2d norm, Tensor input, GroupStatistics pooled)
    {
        if (pooled.Groups != norm.Groups) throw new ArgumentException($"norm {pooled.Norm} has {norm.Groups} groups, the statistics {pooled.Groups}", nameof(pooled));
        var (mean, inverse) = pooled.Normalization(norm.Eps);
        using var scope = NewDisposeScope();
        var m = tensor(mean.Select(v => (float)v).ToArray(), device: input.device).to(input.dtype).view(1, -1, 1);
        var r = tensor(inverse.Select(v => (float)v).ToArray(), device: input.device).to(input.dtype).view(1, -1, 1);
        var normalized = input.reshape(input.shape[0], norm.Groups, -1).sub(m).mul_(r).reshape(input.shape);
        return norm.Affine(normalized).MoveToOuterDisposeScope();
    }

    /// <summary>Hands the tensor to normalize to the driver; after the yield, <see cref="TakeNormalized"/> has the result.</summary>
    private Tensor TakeNormalized()
    {
        var result = _normalized ?? throw new InvalidOperationException("the norm was not applied");
        _normalized = null;
        return result;
    }

    /// <summary>The decoder's forward pass (VaeDecoder.forward) with a stop at every GroupNorm.</summary>
    private IEnumerable<GroupNorm2d> Walk()
    {
        var decoder = _vae.decoder;
        Tensor? x = null;
        try
        {
            x = decoder.conv_in.forward(_input);
            foreach (var norm in Resnet(decoder.mid_block.resnets[0], x)) yield return norm;
            Swap(ref x, TakeBlock());
            foreach (var norm in Attention(decoder.mid_block.attentions[0], x!)) yield return norm;
            Swap(ref x, TakeBlock());
            foreach (var norm in Resnet(decoder.mid_block.resnets[1], x!)) yield return norm;
            Swap(ref x, TakeBlock());
            foreach (var block in decoder.up_blocks)
            {
                foreach (var resnet in block.resnets)
                {
                    foreach (var norm in Resnet(resnet, x!)) yield return norm;
                    Swap(ref x, TakeBlock());
                }
                if (block.upsamplers is not null) Swap(ref x, block.upsamplers[0].forward(x!));
            }
            _pending = x;
            yield return decoder.conv_norm_out;
            using (var scope = NewDisposeScope())
            {
                var pixels = decoder.conv_out.forward(nn.functional.silu(TakeNormalized()));
                var scale = pixels.shape[2] / _input.shape[2];
                _output = pixels[0].narrow(1, _core.Top * scale, _core.Height * scale).narrow(2, _core.Left * scale, _core.Width * scale)
                    .clone().MoveToOuterDisposeScope();
            }
        }
        finally
        {
            x?.Dispose();
            _blockOutput?.Dispose();
            _blockOutput = null;
        }
    }

    private Tensor? _blockOutput;

    private Tensor TakeBlock()
    {
        var result = _blockOutput ?? throw new InvalidOperationException("the block left no output");
        _blockOutput = null;
        return result;
    }

    private static void Swap(ref Tensor? x, Tensor next)
    {
        x?.Dispose();
        x = next;
    }

    /// <summary>ResnetBlock2D without time embedding; the result is left in <see cref="_blockOutput"/>.</summary>
    private IEnumerable<GroupNorm2d> Resnet(ResnetBlock2D resnet, Tensor input)
    {
        _blockOutput = null;
        Tensor? h = null;
        try
        {
            _pending = input;
            yield return resnet.norm1;
            using (var normalized = TakeNormalized())
            using (var activated = nn.functional.silu(normalized))
                h = resnet.conv1.forward(activated);
            (_pending, _kept) = (h, input);
            yield return resnet.norm2;
            _kept = null;
            using (var normalized = TakeNormalized())
            using (var activated = nn.functional.silu(normalized))
                Swap(ref h, resnet.conv2.forward(activated));
            if (resnet.conv_shortcut is null) _blockOutput = input.Plus(h!);
            else
                using (var shortcut = resnet.conv_shortcut.forward(input))
                    _blockOutput = shortcut.Plus(h!);
        }
        finally
        {
            h?.Dispose();
        }
    }

    /// <summary>The VAE mid-block attention (within the crop); the result is left in <see cref="_blockOutput"/>.</summary>
    private IEnumerable<GroupNorm2d> Attention(VaeAttention attention, Tensor input)
    {
        _blockOutput = null;
        _pending = input;
        yield return attention.group_norm;
        using var normalized = TakeNormalized();
        _blockOutput = attention.Attend(normalized, input);
    }
}
