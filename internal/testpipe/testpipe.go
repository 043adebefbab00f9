// Package testpipe is the osquery extension socket for tests: a unix socket
// everywhere but Windows, where osquery serves its extension manager on a
// named pipe (\\.\pipe\...). Listen serves the manager's side, Dial is a
// client of a socket the extension serves, Path names one in a scratch
// directory.
package testpipe
