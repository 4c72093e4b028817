// Finding a data set's files among candidate folders, and the "not found" message.
#pragma once

#include <string>
#include <vector>

namespace kiln::vision::detail {

// The first existing `dir/name` or `dir/name.gz` over dirs; "" when none exists.
std::string find_file(const std::vector<std::string>& dirs, const std::string& name, bool allow_gz = true);

// Throws DataError: "<what> not found: looked for <name>[.gz] in <dirs>. <provider>".
[[noreturn]] void throw_not_found(const std::string& what, const std::string& name, const std::vector<std::string>& dirs,
                                  const std::string& provider, bool allow_gz = true);

// Candidate folders: a given root (root, root/<folder>, root/<alt>/raw), else default_data_dirs(folder).
std::vector<std::string> candidate_dirs(const std::string& root, const std::string& folder,
                                        const std::vector<std::string>& alternatives = {});

}  // namespace kiln::vision::detail
