#pragma once
// Small state files the master keeps under data_dir (live limit overrides,
// access rules, the licence): read whole, replaced atomically.
#include <optional>
#include <string>

#include "error.h"

namespace postern::master {

// nullopt if the file does not exist; an Error if it cannot be read.
Result<std::optional<std::string>> readStateFile(const std::string& path);
// Writes path.tmp, fsyncs it, renames it over `path` and fsyncs the directory.
Error writeStateFile(const std::string& path, const std::string& text);

}  // namespace postern::master
