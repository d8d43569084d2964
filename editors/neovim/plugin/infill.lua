-- Commands of infill.nvim. Nothing starts until require('infill').setup() is called.
if vim.g.loaded_infill then
  return
end
vim.g.loaded_infill = true

vim.api.nvim_create_user_command('InfillToggle', function()
  require('infill').toggle()
end, { desc = 'infill: turn ghost text on or off' })

vim.api.nvim_create_user_command('InfillStatus', function()
  vim.api.nvim_echo({ { table.concat(require('infill').status_lines(), '\n') } }, true, {})
end, { desc = "infill: show the server's state" })

vim.api.nvim_create_user_command('InfillInstall', function(args)
  require('infill').install({ spec = args.args ~= '' and args.args or nil })
end, { nargs = '?', desc = "infill: install the server into the plugin's virtualenv ([pip requirement])" })

vim.api.nvim_create_user_command('InfillRestart', function()
  require('infill').restart()
end, { desc = 'infill: stop the server and start it again with the current settings' })

vim.api.nvim_create_user_command('InfillStats', function()
  require('infill').stats()
end, { desc = 'infill: suggestions shown and taken on this machine, last 7 and 30 days' })
