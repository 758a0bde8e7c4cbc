// Provides std::ios_base_library_init() (GLIBCXX_3.4.32, GCC 13) for systems whose libstdc++ predates it.
// GCC 13 objects only reference the symbol to make sure libstdc++ initialises the standard streams
// itself; older libstdc++ does not, so this library also constructs the stream initialiser once.
#include <ios>

namespace std
{
    void ios_base_library_init() {}
}

static std::ios_base::Init s_streams;
