package torchscript

import "strings"

// Class returns the class definition for a qualified class name as it appears in
// Object.Class and in type annotations ("__torch__.torch.nn.modules.linear.Linear").
func (a *Archive) Class(qualified string) (*ClassDef, bool) {
	f, name, ok := a.split(qualified)
	if !ok {
		return nil, false
	}
	return f.Class(name)
}

// Function returns the top-level function for a qualified name as code calls it
// ("__torch__.torch.nn.functional.relu").
func (a *Archive) Function(qualified string) (*FuncDef, bool) {
	f, name, ok := a.split(qualified)
	if !ok {
		return nil, false
	}
	return f.Func(name)
}

// split resolves "module.name" to the parsed file of module.
func (a *Archive) split(qualified string) (*SourceFile, string, bool) {
	i := strings.LastIndexByte(qualified, '.')
	if i < 0 {
		return nil, "", false
	}
	f, ok := a.Code[qualified[:i]]
	return f, qualified[i+1:], ok
}
