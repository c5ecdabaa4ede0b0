package telnet

// BannerDetail is the Detail of a "banner" observation: what the server
// showed before the first login prompt was answered, and the options the
// two ends negotiated until then.
type BannerDetail struct {
	// Banner is the server's text before the client first answered a
	// prompt, at most Limits.BannerBytes, lines separated by "\n", other
	// control characters removed.
	Banner string `json:"banner,omitempty"`
	// ServerWill and ServerDo list the options the server offered (WILL)
	// and asked the client for (DO); ClientWill and ClientDo the same for
	// the client. Names follow the IANA registry ("echo", "naws",
	// "terminal-type"); unregistered options are numbers.
	ServerWill []string `json:"server_will,omitempty"`
	ServerDo   []string `json:"server_do,omitempty"`
	ClientWill []string `json:"client_will,omitempty"`
	ClientDo   []string `json:"client_do,omitempty"`
	// TerminalType is the terminal type the client announced.
	TerminalType string `json:"terminal_type,omitempty"`
	// WindowCols and WindowRows are the window size the client announced
	// (NAWS).
	WindowCols int `json:"window_cols,omitempty"`
	WindowRows int `json:"window_rows,omitempty"`
	// EnvUser is the USER variable the client sent with NEW-ENVIRON, which
	// some servers log in without asking.
	EnvUser string `json:"env_user,omitempty"`
	// TLS says the peers agreed to switch to TLS (START-TLS).
	TLS bool `json:"tls,omitempty"`
}

// LoginDetail is the Detail of a "login" observation: one login attempt.
type LoginDetail struct {
	// User is the user name typed at the login prompt (or sent as USER
	// with NEW-ENVIRON when the server asked only for a password); empty
	// when unknown.
	User string `json:"user"`
	// Outcome is "success", "failure" or "unknown".
	Outcome string `json:"outcome"`
	// Attempt numbers the attempts within the flow, from 1.
	Attempt int `json:"attempt"`
	// PasswordSent says a password was typed at a password prompt.
	PasswordSent bool `json:"password_sent"`
	// DefaultCredential says the user name and password are a known
	// default pair (per the injected checker), whatever the outcome.
	DefaultCredential bool `json:"default_credential,omitempty"`
}
