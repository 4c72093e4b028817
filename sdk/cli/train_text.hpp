// The text tasks of `kiln train` (train_text.cpp): --task langid and --task lm.
#pragma once

#include "commands.hpp"

namespace kiln::cli {

// Options only the text tasks read (added to `kiln train`'s).
void declare_text_train_options(Options& options);
// Runs --task langid or --task lm with the parsed `kiln train` options.
int run_text_task(const std::string& task, const po::variables_map& args);

}  // namespace kiln::cli
