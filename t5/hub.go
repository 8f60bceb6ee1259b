package t5

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// ErrModelNotFound reports a model that is neither a directory nor in the
// Hugging Face cache. errors.Is also matches it with os.ErrNotExist.
var ErrModelNotFound error = modelNotFound{}

type modelNotFound struct{}

func (modelNotFound) Error() string        { return "t5: model not found" }
func (modelNotFound) Is(target error) bool { return target == os.ErrNotExist }

// hubID matches a Hugging Face model id: NAME or ORG/NAME.
var hubID = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)?$`)

// commitHash matches a full git commit id.
var commitHash = regexp.MustCompile(`^[0-9a-f]{40}$`)

// HubCacheDir returns the Hugging Face hub cache directory, as
// huggingface_hub chooses it: $HF_HUB_CACHE, else the older
// $HUGGINGFACE_HUB_CACHE, else $HF_HOME/hub, else
// $XDG_CACHE_HOME/huggingface/hub, else ~/.cache/huggingface/hub. A
// leading ~ in the variables is the home directory.
func HubCacheDir() (string, error) {
	home := func() (string, error) {
		h, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("t5: locating the Hugging Face cache: %w", err)
		}
		return h, nil
	}
	expand := func(p string) (string, error) {
		if p == "~" || strings.HasPrefix(p, "~/") {
			h, err := home()
			if err != nil {
				return "", err
			}
			return filepath.Join(h, p[1:]), nil
		}
		return p, nil
	}
	for _, v := range []string{"HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"} {
		if p := os.Getenv(v); p != "" {
			return expand(p)
		}
	}
	if p := os.Getenv("HF_HOME"); p != "" {
		p, err := expand(p)
		return filepath.Join(p, "hub"), err
	}
	if p := os.Getenv("XDG_CACHE_HOME"); p != "" {
		p, err := expand(p)
		return filepath.Join(p, "huggingface", "hub"), err
	}
	h, err := home()
	if err != nil {
		return "", err
	}
	return filepath.Join(h, ".cache", "huggingface", "hub"), nil
}

// ResolveModel returns the checkpoint directory of a model given by
// directory or by Hugging Face id, offline. An existing directory is
// returned as is; so is anything that cannot be a model id (an absolute
// path, one starting with . or ~, or with more than one /), for the caller
// to report as missing. A model id NAME or ORG/NAME, optionally followed by
// @REVISION (a branch or tag, default main, or a full commit hash), is
// looked up in the hub cache (HubCacheDir) in huggingface_hub's layout:
// models--ORG--NAME/refs/REVISION holds the commit, whose files are in
// models--ORG--NAME/snapshots/COMMIT/. A model found nowhere is an error
// wrapping ErrModelNotFound that names every path looked at.
func ResolveModel(nameOrDir string) (string, error) {
	if st, err := os.Stat(nameOrDir); err == nil && st.IsDir() {
		return nameOrDir, nil
	}
	id, rev, hasRev := strings.Cut(nameOrDir, "@")
	if !hubID.MatchString(id) || strings.Contains(id, "..") || (hasRev && !validRevision(rev)) {
		return nameOrDir, nil
	}
	if !hasRev {
		rev = "main"
	}
	looked := []string{fmt.Sprintf("%s (no such directory)", nameOrDir)}
	notFound := func() error {
		return fmt.Errorf("%w: %q is not a directory and not in the Hugging Face cache (offline: nothing is downloaded); looked at:\n  %s\n"+
			"download it first (e.g. huggingface-cli download %s), set HF_HUB_CACHE or HF_HOME to the cache that holds it, or pass the checkpoint directory",
			ErrModelNotFound, nameOrDir, strings.Join(looked, "\n  "), id)
	}
	cache, err := HubCacheDir()
	if err != nil {
		return "", errors.Join(notFound(), err)
	}
	repo := filepath.Join(cache, "models--"+strings.ReplaceAll(id, "/", "--"))
	commit := rev
	if !commitHash.MatchString(rev) {
		ref := filepath.Join(repo, "refs", filepath.FromSlash(rev))
		data, err := os.ReadFile(ref)
		if err != nil {
			looked = append(looked, fmt.Sprintf("%s (%s)", ref, reason(err)))
			return "", notFound()
		}
		commit = strings.TrimSpace(string(data))
		if !commitHash.MatchString(commit) {
			return "", fmt.Errorf("%w: %s holds %q, not a commit hash", ErrModelNotFound, ref, commit)
		}
	}
	snap := filepath.Join(repo, "snapshots", commit)
	if st, err := os.Stat(snap); err != nil || !st.IsDir() {
		why := "not a directory"
		if err != nil {
			why = reason(err)
		}
		looked = append(looked, fmt.Sprintf("%s (%s)", snap, why))
		return "", notFound()
	}
	return snap, nil
}

// validRevision accepts git branch or tag names without path tricks.
func validRevision(rev string) bool {
	if rev == "" || strings.Contains(rev, "..") || strings.HasPrefix(rev, "/") || strings.ContainsAny(rev, `\@ `) {
		return false
	}
	return true
}

func reason(err error) string {
	if errors.Is(err, os.ErrNotExist) {
		return "does not exist"
	}
	return err.Error()
}
