using static TorchSharp.torch;

namespace OrleansDiffusion.Diffusion.StableDiffusion.Modules;

/// <summary>Thrown (and caught by the tiled decoder) once the statistics of the norm being measured are taken.</summary>
internal sealed class StatisticsRecordedException : Exception
{
    public StatisticsRecordedException()
        : base("statistics recorded")
    {
    }

    public StatisticsRecordedException(string message)
        : base(message)
    {
    }

    public StatisticsRecordedException(string message, Exception inner)
        : base(message, inner)
    {
    }
}

/// <summary>
/// GroupNorm statistics pooled over all tiles of a canvas. Norms are numbered in call order within one
/// forward pass; those before <see cref="Measuring"/> use frozen pooled (mean, 1/std) per group, the one at
/// <see cref="Measuring"/> adds the tile's core region to running sums and stops the pass.
/// </summary>
internal sealed class GroupNormPooling
{
    private readonly List<(double[] Mean, double[] Rstd)> _frozen = [];
    private double[]? _sum;
    private double[]? _squares;
    private long _count;
    private int _calls;

    /// <summary>Index of the norm whose statistics are being measured; past the last norm: apply all.</summary>
    public int Measuring => _frozen.Count;

    /// <summary>The tile's core in its (cropped) input, in input cells: top, left, height, width, input height.</summary>
    public (long Top, long Left, long Height, long Width, long InputHeight) Core { get; set; }

    public void BeginPass() => _calls = 0;

    /// <summary>Freezes the measured sums into pooled statistics of the next norm.</summary>
    public void Freeze(double eps)
    {
        if (_sum is null || _squares is null || _count == 0) throw new InvalidOperationException("no statistics were measured");
        var mean = _sum.Select(s => s / _count).ToArray();
        var rstd = _squares.Select((q, g) => 1 / Math.Sqrt(Math.Max(q / _count - mean[g] * mean[g], 0) + eps)).ToArray();
        _frozen.Add((mean, rstd));
        (_sum, _squares, _count) = (null, null, 0);
    }

    public double MeasuringEps { get; private set; }

    public Tensor Normalize(GroupNorm2d norm, Tensor input)
    {
        var index = _calls++;
        var (batch, channels) = (input.shape[0], input.shape[1]);
        using var scope = NewDisposeScope();
        var grouped = input.reshape(batch, norm.Groups, -1);
        if (index < _frozen.Count)
        {
            var (mean, rstd) = _frozen[index];
            var m = tensor(mean.Select(v => (float)v).ToArray(), device: input.device).view(1, -1, 1);
            var r = tensor(rstd.Select(v => (float)v).ToArray(), device: input.device).view(1, -1, 1);
            var normalized = grouped.sub(m).mul_(r).reshape(input.shape);
            return norm.Affine(normalized).MoveToOuterDisposeScope();
        }
        if (index == _frozen.Count)
        {
            var scale = input.shape[2] / Core.InputHeight;
            var core = input.narrow(2, Core.Top * scale, Core.Height * scale).narrow(3, Core.Left * scale, Core.Width * scale)
                .to(ScalarType.Float64).reshape(batch, norm.Groups, channels / norm.Groups, -1);
            var sums = core.sum([0, 2, 3]).data<double>().ToArray();
            var squares = core.square().sum([0, 2, 3]).data<double>().ToArray();
            _sum ??= new double[norm.Groups];
            _squares ??= new double[norm.Groups];
            for (var g = 0; g < norm.Groups; g++)
            {
                _sum[g] += sums[g];
                _squares[g] += squares[g];
            }
            _count += core.shape[0] * core.shape[2] * core.shape[3];
            MeasuringEps = norm.Eps;
            throw new StatisticsRecordedException();
        }
        throw new InvalidOperationException($"norm {index} runs before the statistics of norm {_frozen.Count} were frozen");
    }
}
